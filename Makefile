# PGXS build of the afp extension: the C glue (src/pg) and the C++ core (src/core)
# linked into one module. `make && make install && make installcheck`.
EXTENSION = afp afp_shards
MODULE_big = afp
DATA = sql/afp--0.7.0.sql sql/afp--0.1.0.sql sql/afp--0.1.0--0.2.0.sql sql/afp--0.2.0--0.3.0.sql sql/afp--0.3.0--0.4.0.sql sql/afp--0.4.0--0.5.0.sql sql/afp--0.5.0--0.6.0.sql sql/afp--0.6.0--0.7.0.sql \
       sql/afp_shards--0.5.0.sql sql/afp_shards--0.5.0--0.7.0.sql sql/afp_shards--0.7.0.sql

CORE_SRCS = $(sort $(wildcard src/core/*.cpp))
GLUE_SRCS = $(sort $(wildcard src/pg/*.c))
OBJS = $(GLUE_SRCS:.c=.o) $(CORE_SRCS:.cpp=.o)

PG_CPPFLAGS = -Isrc/core $(shell pkg-config --cflags opusfile)
PG_CXXFLAGS = -std=c++17
# A function called without its declaration (a header that moved between PostgreSQL majors, as
# varatt.h in 16) compiles with a warning and fails only when the module is loaded: an error here.
PG_CFLAGS = -Werror=implicit-function-declaration
SHLIB_LINK = -lsndfile -lfftw3f -lsoxr -lopusfile -lstdc++

# pg_regress: sql/NAME.sql against expected/NAME.out (pg_regress's own layout; the install and
# upgrade scripts beside them are the afp--*.sql files), each file on its own (it creates the
# extension afresh); the fixtures come from test/data (scripts/make-fixtures writes them), or from
# AFP_FIXTURES when set.
REGRESS = type fingerprint gin match errors accuracy catalog landmark landmark_merge renditions drop_extension duplicates
REGRESS_OPTS = --outputdir=build/regress
export AFP_FIXTURES ?= $(CURDIR)/test/data
# installcheck runs against the private cluster of scripts/cluster (scripts/setup starts it) unless
# the PG* environment names another server.
export PGHOST ?= 127.0.0.1
export PGPORT ?= $(or $(AFP_PGPORT),54329)
export PGUSER ?= postgres

# No LLVM bitcode: it would need clang at build time and buys nothing for functions this heavy.
override with_llvm = no

PG_CONFIG ?= pg_config

# Only what PostgreSQL calls by name leaves the module (the SQL functions, the magic block,
# _PG_init, the merge worker's entry point): the core's C++ and the glue's helpers are hidden, so
# no symbol of afp can collide with another module's. PostgreSQL 16+ builds every module so; 15's
# PGXS does not and its PGDLLEXPORT is empty, so both are set here.
PG_MAJOR := $(shell $(PG_CONFIG) --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')
ifeq ($(shell test "$(PG_MAJOR)" -lt 16 2>/dev/null && echo old),old)
PG_CPPFLAGS += -DPGDLLEXPORT='__attribute__((visibility("default")))'
PG_CFLAGS += -fvisibility=hidden
PG_CXXFLAGS += -fvisibility=hidden -fvisibility-inlines-hidden
endif

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Without dependency tracking, any header change rebuilds every object: a stale struct layout in one
# object would otherwise pass the compiler and corrupt values at run time.
$(OBJS): $(wildcard src/core/*.h src/core/*.hpp src/pg/*.h)

installcheck: build/regress installcheck-prerequisites
build/regress:
	mkdir -p $@

# What pg_regress needs beyond the installed extension, checked first so that a fresh clone's
# `make installcheck` says in one line what to do rather than failing every test: the generated
# audio fixtures (built here when they are missing and the CMake tree can make them) and a server.
.PHONY: installcheck-prerequisites
installcheck-prerequisites:
	@if [ ! -f "$(AFP_FIXTURES)/song1.wav" ]; then \
	  if [ "$(AFP_FIXTURES)" = "$(CURDIR)/test/data" ] && command -v cmake >/dev/null; then \
	    scripts/make-fixtures || { echo "make installcheck: the fixtures could not be generated: run scripts/setup"; exit 1; }; \
	  else \
	    echo "make installcheck: no test fixtures in $(AFP_FIXTURES): run scripts/make-fixtures (or scripts/setup)"; exit 1; \
	  fi; \
	fi
	@$(dir $(shell $(PG_CONFIG) --bindir)/)pg_isready -q -h "$(PGHOST)" -p "$(PGPORT)" || \
	  { echo "make installcheck: no server at $(PGHOST):$(PGPORT): start one (scripts/cluster start) or set PGHOST, PGPORT and PGUSER"; exit 1; }

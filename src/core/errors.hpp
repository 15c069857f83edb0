// errors.hpp — the typed exceptions the core throws; the facade maps each kind to a status code.
#pragma once

#include <stdexcept>
#include <string>

namespace afp {

// Every way the core can refuse its input.
enum class ErrorKind {
    EmptyAudio,
    Undecodable,
    BadAudioHeader,
    Truncated,
    NoSamples,
    NonFinite,
    Silent,
    TooLong,
    TooManySamples,
    TooLarge,
    Malformed,
    ParamMismatch,
    Cancelled,
};

// An error whose what() is a full sentence fit for errdetail.
class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& detail) : std::runtime_error(detail), kind_(kind) {}
    ErrorKind kind() const noexcept { return kind_; }

private:
    ErrorKind kind_;
};

}  // namespace afp

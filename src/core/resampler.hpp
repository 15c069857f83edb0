// resampler.hpp — streaming sample-rate conversion to the analysis rate (libsoxr, one thread).
#pragma once

#include <cstddef>
#include <vector>

struct soxr;

namespace afp {

// Converts a mono stream from in_rate to out_rate; passes samples through when the rates match.
class Resampler {
public:
    Resampler(double in_rate, double out_rate);
    ~Resampler();
    Resampler(const Resampler&) = delete;
    Resampler& operator=(const Resampler&) = delete;

    // Appends the output produced by n more input samples to out.
    void push(const float* in, size_t n, std::vector<float>& out);

    // Appends the samples still held in the filter; call once at the end.
    void flush(std::vector<float>& out);

private:
    void drain(const float* in, size_t n, std::vector<float>& out);

    soxr* soxr_ = nullptr;
    double ratio_;
};

}  // namespace afp

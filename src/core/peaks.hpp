// peaks.hpp — 2-D spectral peak picking with an adaptive threshold and a density limit.
#pragma once

#include <cstdint>
#include <vector>

#include "params.hpp"
#include "spectrogram.hpp"

namespace afp {

// A local maximum of the power spectrogram.
struct Peak {
    uint32_t frame;
    uint32_t bin;
    float strength;  // ln(power / local mean power) + 0.5 ln(power): what density limiting ranks by
};

// Receives spectrogram columns and keeps every cell that is the maximum of its
// (2 * peak_freq_radius + 1) x (2 * peak_time_radius + 1) neighbourhood, lies above the
// absolute floor and stands min_prominence above the mean of the bins around it.
// Only 2 * peak_time_radius + 1 columns are held, so memory does not grow with the input.
class PeakPicker final : public ColumnSink {
public:
    explicit PeakPicker(const ParamSet& params);

    void column(uint32_t frame, const float* power) override;

    // Decides the columns still waiting for their future neighbours; call once at the end.
    void finish();

    // Candidate peaks in (frame, bin) order.
    const std::vector<Peak>& candidates() const noexcept { return candidates_; }

private:
    void decide(uint32_t frame);
    size_t slot(uint32_t frame) const noexcept { return frame % ring_; }

    const ParamSet& params_;
    uint32_t band_;   // bins from min_bin to max_bin inclusive
    uint32_t ring_;   // columns held
    std::vector<float> power_;     // ring_ x band_
    std::vector<float> freq_max_;  // ring_ x band_: max over +-peak_freq_radius bins
    std::vector<double> prefix_;   // ring_ x (band_ + 1): running sums of power for local means
    std::vector<float> scratch_;   // padded column for the running maximum
    std::vector<float> block_fwd_;
    std::vector<float> block_bwd_;
    uint32_t received_ = 0;  // columns received
    uint32_t decided_ = 0;   // columns decided
    std::vector<Peak> candidates_;
};

// Keeps, from candidates in frame order, each peak that is among the peaks_per_window strongest
// within +-density_radius frames of itself (ties go to the earlier peak). The rule looks only at
// a peak's neighbourhood, so a clip cut anywhere from a track keeps the same interior peaks.
std::vector<Peak> limit_density(const std::vector<Peak>& candidates, const ParamSet& params);

}  // namespace afp

// DeviceTelemetry: what the board and its GPU are doing, as Prometheus gauges read at
// scrape time (no thread of its own). Sources that do not exist on this machine are
// omitted, so a laptop exports nothing, a Jetson its sysfs view, a discrete GPU NVML's.
//
// Jetson (JetPack 6 / L4T r36 layout; the same files tegrastats reads), all under `root`:
//   jetserve_device_gpu_load_ratio{gpu}           /sys/class/devfreq/<gpu>/device/load
//                                                 (per mille, 0..1000 -> 0..1)
//   jetserve_device_gpu_frequency_hz{gpu}         /sys/class/devfreq/<gpu>/cur_freq (Hz)
//       <gpu> is a devfreq entry whose name has "gpu", "gv11b", "ga10b" or "gp10b"
//       (Orin: 17000000.gpu; Xavier: 17000000.gv11b).
//   jetserve_device_emc_frequency_hz              /sys/kernel/debug/bpmp/debug/clk/emc/rate
//                                                 or /sys/kernel/debug/clk/emc/clk_rate (Hz)
//   jetserve_device_emc_load_ratio                actmon average memory-controller activity
//       (/sys/kernel/debug/cactmon/mc_all, or /sys/kernel/actmon_avg_activity/mc_all; kHz)
//       divided by the EMC clock in kHz. debugfs is root-only: absent when unreadable.
//   jetserve_device_ram_bytes{state}              /proc/meminfo MemTotal ("total") and
//       MemAvailable ("available"); exported only on Jetson, where the GPU shares it.
//   jetserve_device_rail_power_watts{rail}        INA3221 hwmon channels:
//   jetserve_device_rail_voltage_volts{rail}      /sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*/
//   jetserve_device_rail_current_amperes{rail}    in<N>_label, in<N>_input (mV), curr<N>_input
//       (mA); power = voltage x current.
//   jetserve_device_temperature_celsius{zone}     /sys/class/thermal/thermal_zone*/type and
//       temp (millidegrees); zones reporting -256 C or below (sensor off) are skipped.
//
// Discrete GPUs: libnvidia-ml.so.1 is opened with dlopen at Create() (never linked):
//   jetserve_device_gpu_load_ratio{gpu}, jetserve_device_gpu_frequency_hz{gpu},
//   jetserve_device_gpu_memory_bytes{gpu,state="total"|"used"},
//   jetserve_device_gpu_power_watts{gpu}, jetserve_device_temperature_celsius{zone="gpuN"}
//   with gpu="nvml:N".
//
//   auto telemetry = DeviceTelemetry::Create({.root = "/"});
//   exposer.RegisterCollectable(telemetry);
#ifndef JETSERVE_WORKER_TELEMETRY_H_
#define JETSERVE_WORKER_TELEMETRY_H_

#include <memory>
#include <string>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace jetserve::worker {

struct TelemetryOptions {
  // Prefix of /sys and /proc (tests point it at a fake tree).
  std::string root = "/";
  // NVML library to dlopen; empty: no NVML.
  std::string nvml_library = "libnvidia-ml.so.1";
};

class DeviceTelemetry final : public prometheus::Collectable {
 public:
  static std::shared_ptr<DeviceTelemetry> Create(const TelemetryOptions& options);
  ~DeviceTelemetry() override;

  // Reads every source now; families with no sample are left out.
  std::vector<prometheus::MetricFamily> Collect() const override;

  // Names of the sources found at Create() ("jetson-gpu", "emc", "ina3221", "thermal",
  // "meminfo", "nvml"), for the worker's start-up log.
  const std::vector<std::string>& sources() const { return sources_; }

 private:
  struct Nvml;
  explicit DeviceTelemetry(const TelemetryOptions& options);

  const std::string root_;
  std::vector<std::string> sources_;
  std::unique_ptr<Nvml> nvml_;
};

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_TELEMETRY_H_

#include "worker/telemetry.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace jetserve::worker {
namespace {

namespace fs = std::filesystem;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Sensors that are powered off report this (or lower) on Jetson.
constexpr double kOfflineTemperatureCelsius = -256.0;
// INA3221 has three channels per chip; the hwmon driver numbers them from 1 (newer kernels
// add a summation channel after them).
constexpr int kMaxHwmonChannels = 8;

std::optional<std::string> ReadSmallFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  std::string s = text.str();
  if (s.size() > 4096) s.resize(4096);
  return s;
}

std::optional<double> ReadNumber(const fs::path& path) {
  std::optional<std::string> text = ReadSmallFile(path);
  if (!text.has_value()) return std::nullopt;
  double value = 0;
  if (!absl::SimpleAtod(absl::StripAsciiWhitespace(*text), &value)) return std::nullopt;
  return value;
}

std::optional<std::string> ReadLabel(const fs::path& path) {
  std::optional<std::string> text = ReadSmallFile(path);
  if (!text.has_value()) return std::nullopt;
  std::string label(absl::StripAsciiWhitespace(*text));
  if (label.empty()) return std::nullopt;
  return label;
}

// Sorted entries of a folder (none when it is missing or unreadable).
std::vector<fs::path> ListDir(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Collects gauge samples by family; families without samples are dropped at the end.
class Families {
 public:
  void Add(const std::string& name, const std::string& help,
           std::vector<ClientMetric::Label> labels, double value) {
    MetricFamily& family = families_[name];
    family.name = name;
    family.help = help;
    family.type = MetricType::Gauge;
    ClientMetric metric;
    metric.label = std::move(labels);
    metric.gauge.value = value;
    family.metric.push_back(std::move(metric));
  }
  std::vector<MetricFamily> Take() {
    std::vector<MetricFamily> out;
    for (auto& [name, family] : families_) out.push_back(std::move(family));
    return out;
  }

 private:
  std::map<std::string, MetricFamily> families_;
};

constexpr char kGpuLoad[] = "jetserve_device_gpu_load_ratio";
constexpr char kGpuLoadHelp[] = "GPU busy fraction (0..1).";
constexpr char kGpuFreq[] = "jetserve_device_gpu_frequency_hz";
constexpr char kGpuFreqHelp[] = "GPU clock.";
constexpr char kTemp[] = "jetserve_device_temperature_celsius";
constexpr char kTempHelp[] = "Temperature by thermal zone.";

bool IsJetsonGpuDevfreq(const std::string& name) {
  for (const char* part : {"gpu", "gv11b", "ga10b", "gp10b"}) {
    if (absl::StrContains(name, part)) return true;
  }
  return false;
}

// Returns true when a Jetson GPU was found.
bool CollectJetsonGpu(const fs::path& root, Families* out) {
  bool found = false;
  for (const fs::path& dev : ListDir(root / "sys/class/devfreq")) {
    const std::string name = dev.filename().string();
    if (!IsJetsonGpuDevfreq(name)) continue;
    if (std::optional<double> load = ReadNumber(dev / "device/load")) {
      out->Add(kGpuLoad, kGpuLoadHelp, {{"gpu", name}}, std::clamp(*load / 1000.0, 0.0, 1.0));
      found = true;
    }
    if (std::optional<double> hz = ReadNumber(dev / "cur_freq")) {
      out->Add(kGpuFreq, kGpuFreqHelp, {{"gpu", name}}, *hz);
      found = true;
    }
  }
  return found;
}

bool CollectEmc(const fs::path& root, Families* out) {
  std::optional<double> rate_hz;
  for (const char* p :
       {"sys/kernel/debug/bpmp/debug/clk/emc/rate", "sys/kernel/debug/clk/emc/clk_rate"}) {
    if ((rate_hz = ReadNumber(root / p))) break;
  }
  std::optional<double> activity_khz;
  for (const char* p :
       {"sys/kernel/debug/cactmon/mc_all", "sys/kernel/actmon_avg_activity/mc_all"}) {
    if ((activity_khz = ReadNumber(root / p))) break;
  }
  if (rate_hz.has_value()) {
    out->Add("jetserve_device_emc_frequency_hz", "Memory controller (EMC) clock.", {}, *rate_hz);
  }
  if (rate_hz.has_value() && activity_khz.has_value() && *rate_hz > 0) {
    out->Add("jetserve_device_emc_load_ratio",
             "Memory controller busy fraction: actmon activity over the EMC clock.", {},
             std::clamp(*activity_khz / (*rate_hz / 1000.0), 0.0, 1.0));
  }
  return rate_hz.has_value();
}

bool CollectMeminfo(const fs::path& root, Families* out) {
  std::optional<std::string> text = ReadSmallFile(root / "proc/meminfo");
  if (!text.has_value()) return false;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() != 3 || f[2] != "kB") continue;
    const char* state = f[0] == "MemTotal:" ? "total" : f[0] == "MemAvailable:" ? "available" : "";
    int64_t kib = 0;
    if (*state == '\0' || !absl::SimpleAtoi(f[1], &kib)) continue;
    out->Add("jetserve_device_ram_bytes", "RAM shared by CPU and GPU (MemTotal, MemAvailable).",
             {{"state", state}}, static_cast<double>(kib) * 1024.0);
    found = true;
  }
  return found;
}

bool CollectIna3221(const fs::path& root, Families* out) {
  bool found = false;
  for (const fs::path& chip : ListDir(root / "sys/bus/i2c/drivers/ina3221")) {
    for (const fs::path& hwmon : ListDir(chip / "hwmon")) {
      for (int n = 1; n <= kMaxHwmonChannels; ++n) {
        std::optional<std::string> rail = ReadLabel(hwmon / absl::StrCat("in", n, "_label"));
        if (!rail.has_value()) continue;
        std::optional<double> mv = ReadNumber(hwmon / absl::StrCat("in", n, "_input"));
        std::optional<double> ma = ReadNumber(hwmon / absl::StrCat("curr", n, "_input"));
        if (mv.has_value()) {
          out->Add("jetserve_device_rail_voltage_volts", "Power rail voltage (INA3221).",
                   {{"rail", *rail}}, *mv / 1e3);
        }
        if (ma.has_value()) {
          out->Add("jetserve_device_rail_current_amperes", "Power rail current (INA3221).",
                   {{"rail", *rail}}, *ma / 1e3);
        }
        if (mv.has_value() && ma.has_value()) {
          out->Add("jetserve_device_rail_power_watts", "Power rail power (INA3221).",
                   {{"rail", *rail}}, *mv * *ma / 1e6);
        }
        found = found || mv.has_value() || ma.has_value();
      }
    }
  }
  return found;
}

bool CollectThermal(const fs::path& root, Families* out) {
  bool found = false;
  for (const fs::path& zone : ListDir(root / "sys/class/thermal")) {
    if (!absl::StartsWith(zone.filename().string(), "thermal_zone")) continue;
    std::optional<std::string> type = ReadLabel(zone / "type");
    std::optional<double> milli = ReadNumber(zone / "temp");
    if (!type.has_value() || !milli.has_value()) continue;
    const double celsius = *milli / 1000.0;
    if (celsius <= kOfflineTemperatureCelsius) continue;
    out->Add(kTemp, kTempHelp, {{"zone", *type}}, celsius);
    found = true;
  }
  return found;
}

}  // namespace

// NVML entry points (the documented C ABI), resolved with dlsym.
struct DeviceTelemetry::Nvml {
  struct Utilization {
    unsigned int gpu;
    unsigned int memory;
  };
  struct Memory {
    unsigned long long total;  // NOLINT(runtime/int): NVML's type
    unsigned long long free;   // NOLINT(runtime/int)
    unsigned long long used;   // NOLINT(runtime/int)
  };
  using Device = void*;
  void* handle = nullptr;
  int (*shutdown)() = nullptr;
  int (*get_count)(unsigned int*) = nullptr;
  int (*get_handle)(unsigned int, Device*) = nullptr;
  int (*get_utilization)(Device, Utilization*) = nullptr;
  int (*get_memory)(Device, Memory*) = nullptr;
  int (*get_temperature)(Device, int, unsigned int*) = nullptr;
  int (*get_power)(Device, unsigned int*) = nullptr;
  int (*get_clock)(Device, int, unsigned int*) = nullptr;

  static std::unique_ptr<Nvml> Open(const std::string& library) {
    if (library.empty()) return nullptr;
    void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) return nullptr;
    auto nvml = std::make_unique<Nvml>();
    nvml->handle = handle;
    auto init = reinterpret_cast<int (*)()>(dlsym(handle, "nvmlInit_v2"));
    nvml->shutdown = reinterpret_cast<int (*)()>(dlsym(handle, "nvmlShutdown"));
    nvml->get_count = reinterpret_cast<decltype(get_count)>(dlsym(handle, "nvmlDeviceGetCount_v2"));
    nvml->get_handle =
        reinterpret_cast<decltype(get_handle)>(dlsym(handle, "nvmlDeviceGetHandleByIndex_v2"));
    nvml->get_utilization =
        reinterpret_cast<decltype(get_utilization)>(dlsym(handle, "nvmlDeviceGetUtilizationRates"));
    nvml->get_memory =
        reinterpret_cast<decltype(get_memory)>(dlsym(handle, "nvmlDeviceGetMemoryInfo"));
    nvml->get_temperature =
        reinterpret_cast<decltype(get_temperature)>(dlsym(handle, "nvmlDeviceGetTemperature"));
    nvml->get_power =
        reinterpret_cast<decltype(get_power)>(dlsym(handle, "nvmlDeviceGetPowerUsage"));
    nvml->get_clock =
        reinterpret_cast<decltype(get_clock)>(dlsym(handle, "nvmlDeviceGetClockInfo"));
    if (init == nullptr || nvml->shutdown == nullptr || nvml->get_count == nullptr ||
        nvml->get_handle == nullptr || init() != 0) {
      nvml->shutdown = nullptr;  // not initialized: nothing to shut down
      return nullptr;            // ~Nvml closes the library
    }
    return nvml;
  }

  ~Nvml() {
    if (shutdown != nullptr) shutdown();
    if (handle != nullptr) dlclose(handle);
  }

  void Collect(Families* out) const {
    unsigned int count = 0;
    if (get_count(&count) != 0) return;
    for (unsigned int i = 0; i < count; ++i) {
      Device dev = nullptr;
      if (get_handle(i, &dev) != 0) continue;
      const std::string gpu = absl::StrCat("nvml:", i);
      Utilization u{};
      if (get_utilization != nullptr && get_utilization(dev, &u) == 0) {
        out->Add(kGpuLoad, kGpuLoadHelp, {{"gpu", gpu}}, u.gpu / 100.0);
      }
      unsigned int mhz = 0;
      if (get_clock != nullptr && get_clock(dev, /*NVML_CLOCK_GRAPHICS=*/0, &mhz) == 0) {
        out->Add(kGpuFreq, kGpuFreqHelp, {{"gpu", gpu}}, mhz * 1e6);
      }
      Memory m{};
      if (get_memory != nullptr && get_memory(dev, &m) == 0) {
        const char* help = "GPU memory (total, used).";
        out->Add("jetserve_device_gpu_memory_bytes", help, {{"gpu", gpu}, {"state", "total"}},
                 static_cast<double>(m.total));
        out->Add("jetserve_device_gpu_memory_bytes", help, {{"gpu", gpu}, {"state", "used"}},
                 static_cast<double>(m.used));
      }
      unsigned int milliwatts = 0;
      if (get_power != nullptr && get_power(dev, &milliwatts) == 0) {
        out->Add("jetserve_device_gpu_power_watts", "GPU board power draw.", {{"gpu", gpu}},
                 milliwatts / 1e3);
      }
      unsigned int celsius = 0;
      if (get_temperature != nullptr &&
          get_temperature(dev, /*NVML_TEMPERATURE_GPU=*/0, &celsius) == 0) {
        out->Add(kTemp, kTempHelp, {{"zone", absl::StrCat("gpu", i)}}, celsius);
      }
    }
  }
};

std::shared_ptr<DeviceTelemetry> DeviceTelemetry::Create(const TelemetryOptions& options) {
  std::shared_ptr<DeviceTelemetry> t(new DeviceTelemetry(options));
  t->nvml_ = Nvml::Open(options.nvml_library);
  const fs::path root(t->root_);
  Families scratch;
  const bool jetson = CollectJetsonGpu(root, &scratch);
  if (jetson) t->sources_.push_back("jetson-gpu");
  if (CollectEmc(root, &scratch)) t->sources_.push_back("emc");
  if (jetson && CollectMeminfo(root, &scratch)) t->sources_.push_back("meminfo");
  if (CollectIna3221(root, &scratch)) t->sources_.push_back("ina3221");
  if (CollectThermal(root, &scratch)) t->sources_.push_back("thermal");
  if (t->nvml_ != nullptr) t->sources_.push_back("nvml");
  return t;
}

DeviceTelemetry::DeviceTelemetry(const TelemetryOptions& options) : root_(options.root) {}

DeviceTelemetry::~DeviceTelemetry() = default;

std::vector<MetricFamily> DeviceTelemetry::Collect() const {
  const fs::path root(root_);
  Families out;
  const bool jetson = CollectJetsonGpu(root, &out);
  CollectEmc(root, &out);
  if (jetson) CollectMeminfo(root, &out);
  CollectIna3221(root, &out);
  CollectThermal(root, &out);
  if (nvml_ != nullptr) nvml_->Collect(&out);
  return out.Take();
}

}  // namespace jetserve::worker

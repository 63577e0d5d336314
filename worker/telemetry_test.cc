#include "worker/telemetry.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jetserve::worker {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A fake / with the files JetPack 6 (L4T r36, Orin) has, in their real formats: one number
// and a newline per sysfs file, /proc/meminfo as the kernel writes it.
class FakeRoot {
 public:
  FakeRoot() {
    std::string tmpl = (fs::temp_directory_path() / "telemetry-XXXXXX").string();
    root_ = mkdtemp(tmpl.data());
  }
  ~FakeRoot() { fs::remove_all(root_); }
  const fs::path& path() const { return root_; }
  void Write(const std::string& rel, const std::string& text) const {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << text;
  }
  void Link(const std::string& rel, const std::string& target) const {
    fs::create_directories((root_ / rel).parent_path());
    fs::create_directory_symlink(target, root_ / rel);
  }

  // What an Orin board exposes.
  void AddOrin() const {
    // devfreq entry of the GPU; its device/ is a link to the platform device, as on a board.
    Write("sys/devices/platform/bus@0/17000000.gpu/load", "537\n");
    Write("sys/class/devfreq/17000000.gpu/cur_freq", "918000000\n");
    Link("sys/class/devfreq/17000000.gpu/device", "../../../devices/platform/bus@0/17000000.gpu");
    // Another devfreq device (the video image compositor) that is not the GPU.
    Write("sys/class/devfreq/15340000.vic/cur_freq", "115200000\n");
    Write("sys/kernel/debug/bpmp/debug/clk/emc/rate", "2133000000\n");
    Write("sys/kernel/debug/cactmon/mc_all", "426600\n");
    Write("proc/meminfo",
          "MemTotal:       30536068 kB\n"
          "MemFree:        27212764 kB\n"
          "MemAvailable:   28375468 kB\n"
          "Buffers:           19584 kB\n"
          "HugePages_Total:       0\n"
          "Hugepagesize:       2048 kB\n");
    const std::string hwmon = "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3/";
    Write(hwmon + "name", "ina3221\n");
    Write(hwmon + "in1_label", "VDD_GPU_SOC\n");
    Write(hwmon + "in1_input", "5080\n");
    Write(hwmon + "curr1_input", "1250\n");
    Write(hwmon + "in2_label", "VDD_CPU_CV\n");
    Write(hwmon + "in2_input", "5064\n");
    Write(hwmon + "curr2_input", "400\n");
    Write(hwmon + "in3_label", "VIN_SYS_5V0\n");
    Write(hwmon + "in3_input", "5000\n");
    Write(hwmon + "curr3_input", "2000\n");
    Write("sys/class/thermal/thermal_zone0/type", "cpu-thermal\n");
    Write("sys/class/thermal/thermal_zone0/temp", "46843\n");
    Write("sys/class/thermal/thermal_zone1/type", "gpu-thermal\n");
    Write("sys/class/thermal/thermal_zone1/temp", "45093\n");
    // A sensor that is powered off reports -256 C: left out.
    Write("sys/class/thermal/thermal_zone2/type", "cv0-thermal\n");
    Write("sys/class/thermal/thermal_zone2/temp", "-256000\n");
  }

 private:
  fs::path root_;
};

// name -> {labels as "k=v,..." -> value}.
using Samples = std::map<std::string, std::map<std::string, double>>;

Samples Read(const DeviceTelemetry& t) {
  Samples out;
  for (const prometheus::MetricFamily& f : t.Collect()) {
    EXPECT_EQ(f.type, prometheus::MetricType::Gauge) << f.name;
    EXPECT_FALSE(f.help.empty()) << f.name;
    for (const prometheus::ClientMetric& m : f.metric) {
      std::string key;
      for (const auto& l : m.label) key += (key.empty() ? "" : ",") + l.name + "=" + l.value;
      out[f.name][key] = m.gauge.value;
    }
  }
  return out;
}

TelemetryOptions NoNvml(const fs::path& root) {
  return TelemetryOptions{.root = root.string(), .nvml_library = ""};
}

TEST(DeviceTelemetryTest, OrinSysfsTree) {
  FakeRoot root;
  root.AddOrin();
  auto t = DeviceTelemetry::Create(NoNvml(root.path()));
  EXPECT_THAT(t->sources(), ElementsAre("jetson-gpu", "emc", "meminfo", "ina3221", "thermal"));
  Samples s = Read(*t);
  // Values derived by hand from the files above.
  EXPECT_EQ(s["jetserve_device_gpu_load_ratio"],
            (std::map<std::string, double>{{"gpu=17000000.gpu", 0.537}}));
  EXPECT_EQ(s["jetserve_device_gpu_frequency_hz"],
            (std::map<std::string, double>{{"gpu=17000000.gpu", 918e6}}));
  EXPECT_EQ(s["jetserve_device_emc_frequency_hz"], (std::map<std::string, double>{{"", 2133e6}}));
  // 426600 kHz of activity over a 2133000 kHz clock.
  EXPECT_DOUBLE_EQ(s["jetserve_device_emc_load_ratio"][""], 0.2);
  EXPECT_EQ(s["jetserve_device_ram_bytes"],
            (std::map<std::string, double>{{"state=available", 28375468.0 * 1024},
                                           {"state=total", 30536068.0 * 1024}}));
  EXPECT_DOUBLE_EQ(s["jetserve_device_rail_power_watts"]["rail=VDD_GPU_SOC"], 6.35);
  EXPECT_DOUBLE_EQ(s["jetserve_device_rail_power_watts"]["rail=VDD_CPU_CV"], 2.0256);
  EXPECT_DOUBLE_EQ(s["jetserve_device_rail_power_watts"]["rail=VIN_SYS_5V0"], 10.0);
  EXPECT_DOUBLE_EQ(s["jetserve_device_rail_voltage_volts"]["rail=VDD_CPU_CV"], 5.064);
  EXPECT_DOUBLE_EQ(s["jetserve_device_rail_current_amperes"]["rail=VDD_GPU_SOC"], 1.25);
  EXPECT_EQ(
      s["jetserve_device_temperature_celsius"],
      (std::map<std::string, double>{{"zone=cpu-thermal", 46.843}, {"zone=gpu-thermal", 45.093}}));
  EXPECT_EQ(s.size(), 9u);

  // Values are read at every scrape.
  root.Write("sys/devices/platform/bus@0/17000000.gpu/load", "1000\n");
  EXPECT_EQ(Read(*t)["jetserve_device_gpu_load_ratio"]["gpu=17000000.gpu"], 1.0);
}

TEST(DeviceTelemetryTest, EmptyTreeAndMissingNvmlExportNothing) {
  FakeRoot root;
  auto t = DeviceTelemetry::Create(
      TelemetryOptions{.root = root.path().string(), .nvml_library = "libjetserve-no-nvml.so"});
  EXPECT_THAT(t->sources(), IsEmpty());
  EXPECT_THAT(t->Collect(), IsEmpty());
}

TEST(DeviceTelemetryTest, PartialAndMalformedSourcesAreOmitted) {
  FakeRoot root;
  // debugfs not readable (no EMC activity) and no GPU: meminfo alone is not exported, since
  // RAM is only GPU memory on a Jetson; a garbled load file and a rail without a label are
  // skipped; a hwmon channel with voltage but no current gives voltage only.
  root.Write("sys/kernel/debug/clk/emc/clk_rate", "1600000000\n");
  root.Write("proc/meminfo", "MemTotal:       3956104 kB\nMemAvailable:    1204820 kB\n");
  root.Write("sys/class/devfreq/57000000.gpu/cur_freq", "not a number\n");
  const std::string hwmon = "sys/bus/i2c/drivers/ina3221/6-0040/hwmon/hwmon0/";
  root.Write(hwmon + "in1_label", "POM_5V_IN\n");
  root.Write(hwmon + "in1_input", "5096\n");
  root.Write(hwmon + "in2_input", "5000\n");  // no label: not a rail
  root.Write(hwmon + "curr2_input", "100\n");
  auto t = DeviceTelemetry::Create(NoNvml(root.path()));
  EXPECT_THAT(t->sources(), ElementsAre("emc", "ina3221"));
  Samples s = Read(*t);
  EXPECT_EQ(s["jetserve_device_emc_frequency_hz"], (std::map<std::string, double>{{"", 1.6e9}}));
  EXPECT_EQ(s["jetserve_device_rail_voltage_volts"],
            (std::map<std::string, double>{{"rail=POM_5V_IN", 5.096}}));
  EXPECT_EQ(s.size(), 2u);
}

TEST(DeviceTelemetryTest, NvmlLoadedAtRunTime) {
  FakeRoot root;  // no sysfs sources: only NVML's
  auto t = DeviceTelemetry::Create(
      TelemetryOptions{.root = root.path().string(), .nvml_library = JETSERVE_FAKE_NVML});
  EXPECT_THAT(t->sources(), ElementsAre("nvml"));
  Samples s = Read(*t);
  EXPECT_EQ(s["jetserve_device_gpu_load_ratio"],
            (std::map<std::string, double>{{"gpu=nvml:0", 0.42}, {"gpu=nvml:1", 0.07}}));
  EXPECT_EQ(s["jetserve_device_gpu_frequency_hz"],
            (std::map<std::string, double>{{"gpu=nvml:0", 1980e6}, {"gpu=nvml:1", 345e6}}));
  EXPECT_EQ(s["jetserve_device_gpu_memory_bytes"],
            (std::map<std::string, double>{{"gpu=nvml:0,state=total", 80.0 * (1 << 30)},
                                           {"gpu=nvml:0,state=used", 1.0 * (1 << 30)},
                                           {"gpu=nvml:1,state=total", 80.0 * (1 << 30)},
                                           {"gpu=nvml:1,state=used", 2.0 * (1 << 30)}}));
  // The second GPU reports no power (NOT_SUPPORTED): left out.
  EXPECT_EQ(s["jetserve_device_gpu_power_watts"],
            (std::map<std::string, double>{{"gpu=nvml:0", 123.456}}));
  EXPECT_EQ(s["jetserve_device_temperature_celsius"],
            (std::map<std::string, double>{{"zone=gpu0", 50}, {"zone=gpu1", 51}}));
  EXPECT_EQ(s.size(), 5u);
}

}  // namespace
}  // namespace jetserve::worker

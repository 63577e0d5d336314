// jetserve-worker: serves one model over the internal worker API. See worker_main.h.
#include "worker/backend_loader.h"
#include "worker/worker_main.h"

int main(int argc, char** argv) {
  return jetserve::worker::WorkerMain(
      argc, argv, {.program = "jetserve-worker", .factory = &jetserve::worker::LoadBackend});
}

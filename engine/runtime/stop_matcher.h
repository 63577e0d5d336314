// Stop strings matched across token boundaries. Text arrives in pieces (one streamed
// delta per token); a piece is released only once no stop string can still begin in it,
// so a stop string split over several tokens is found and never shown to the client.
//
//   StopMatcher m({"\n\n", "User:"});
//   StopMatcher::Result r = m.Push(delta);   // r.text is safe to send
//   if (r.stopped) { ... r.stop_index names the string ... }
//   send(m.Flush());                          // at the end: the withheld tail
#ifndef JETSERVE_ENGINE_RUNTIME_STOP_MATCHER_H_
#define JETSERVE_ENGINE_RUNTIME_STOP_MATCHER_H_

#include <string>
#include <string_view>
#include <vector>

namespace jetserve::runtime {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  struct Result {
    std::string text;  // releasable text (before the stop string when stopped)
    bool stopped = false;
    int stop_index = -1;  // which stop string matched
  };
  // Appends text. With allow_stop false (e.g. before min_tokens) occurrences are ignored.
  Result Push(std::string_view text, bool allow_stop = true);
  // Releases what is withheld (no match can complete any more).
  std::string Flush();

 private:
  std::vector<std::string> stops_;
  std::string pending_;
};

}  // namespace jetserve::runtime

#endif  // JETSERVE_ENGINE_RUNTIME_STOP_MATCHER_H_

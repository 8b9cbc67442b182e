// The router's gauges for /metrics (ops/metrics.h): conversations waiting per queue and
// agents by presence per workspace. Set from the engine's thread about once a second.
#pragma once

namespace omniroute::router {

struct Parts;

void report_gauges(Parts& p);

}  // namespace omniroute::router

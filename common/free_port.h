// A TCP port on 127.0.0.1 that nobody listens on, for tests, benchmarks and the fault
// harness that must name a port in a config before the process that binds it starts.
#pragma once

namespace omniroute {

// Picked at random below the kernel's ephemeral range (32768 and up on Linux), so the port
// is never handed to some other process's outgoing connection between now and the bind;
// checked free by binding it once. Falls back to a kernel-chosen port.
int free_tcp_port();

}  // namespace omniroute

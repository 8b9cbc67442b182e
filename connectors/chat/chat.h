// The web chat connector: a WebSocket gateway (Boost.Beast) for the website widget it also
// serves (one script tag). Visitors keep their conversation across reloads with a resume
// token; every message is acknowledged to the browser only after Kafka has it; agent
// replies, typing, "agent joined" and queue position are pushed live.
//
// Browser <-> gateway frames (JSON text frames), in order of a session:
//   -> {"type":"hello","token":"...","name":"...","email":"...","lang":"pt-BR"}
//   <- {"type":"welcome","token":"...","visitor":"v...","history":[...],"title":"..."}
//   -> {"type":"message","id":"<client id>","text":"..."}
//   <- {"type":"ack","id":"<client id>"}       (Kafka has it)   or {"type":"error",...}
//   -> {"type":"profile","name":"...","email":"..."}   (pre-chat form filled later)
//   -> {"type":"typing","on":true}
//   <- {"type":"message","id":"...","author":"agent","name":"Alice","text":"...","at":ms}
//   <- {"type":"typing","on":true,"name":"Alice"}  {"type":"agent_joined","name":"Alice"}
//   <- {"type":"queue","position":2,"expected_wait_s":90,"agents_available":3}
//   <- {"type":"resolved"}
#pragma once

#include "connectors/sdk/connector.h"

namespace omniroute::connectors::chat {

// The connector's registration (name "chat").
sdk::ConnectorFactory factory();

}  // namespace omniroute::connectors::chat

// Inside the kafka module only: building a librdkafka configuration.
#pragma once

#include <map>
#include <string>

#include <librdkafka/rdkafka.h>

#include "kafka/kafka.h"

namespace omniroute::kafka {

// defaults < the operator's kafka.properties < overrides, for a consumer or else a producer
// (admin requests use a producer handle): a `consumer.`/`producer.` property goes to that
// kind of client only. Null + `err` (never the value: it may be a password) when librdkafka
// refuses one.
rd_kafka_conf_t* make_conf(const ClientConfig& cfg, bool consumer,
                           const std::map<std::string, std::string>& defaults,
                           const std::map<std::string, std::string>& overrides, std::string& err);

}  // namespace omniroute::kafka

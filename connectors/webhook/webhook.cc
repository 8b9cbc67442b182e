#include "connectors/webhook/webhook.h"

#include <mutex>
#include <optional>

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "connectors/http/client.h"
#include "connectors/http/signature.h"
#include "connectors/webhook/webhook_connector.h"

namespace omniroute::connectors::webhook {

std::string sign(std::string_view secret, std::string_view body) {
  return http::hmac_sha256_tagged(secret, body);
}

std::string parse_inbound(std::string_view json, const Limits& limits, v1::InboundMessage& out) {
  if (json.size() > limits.max_body_bytes) return "body too large";
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &out, opts);
  if (!st.ok()) return fmt::format("invalid InboundMessage JSON: {}", std::string(st.message()));
  if (out.external_message_id().empty()) return "missing field: external_message_id";
  if (out.customer_handle().empty()) return "missing field: customer_handle";
  if (out.text_body().empty() && out.html_body().empty() && out.attachments().empty()) {
    return "missing field: one of text_body, html_body or attachments is required";
  }
  if (out.external_message_id().size() > limits.max_id_bytes) return "external_message_id too long";
  if (out.customer_handle().size() > limits.max_id_bytes) return "customer_handle too long";
  if (out.thread().thread_id().size() > limits.max_id_bytes) return "thread.thread_id too long";
  if (static_cast<size_t>(out.attachments_size()) > limits.max_attachments) {
    return fmt::format("too many attachments ({} > {})", out.attachments_size(),
                       limits.max_attachments);
  }
  if (out.provider_metadata_size() + out.customer_attributes_size() >
      static_cast<int>(limits.max_metadata_entries)) {
    return fmt::format("too many metadata entries (limit {})", limits.max_metadata_entries);
  }
  if (out.channel() != v1::CHANNEL_UNSPECIFIED && out.channel() != v1::CHANNEL_WEBHOOK) {
    return "channel must be CHANNEL_WEBHOOK or absent";
  }
  return {};
}

std::string parse_csat(std::string_view json, const Limits& limits, v1::CsatAnswer& out) {
  if (json.size() > limits.max_body_bytes) return "body too large";
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &out, opts);
  if (!st.ok()) return fmt::format("invalid CsatAnswer JSON: {}", std::string(st.message()));
  if (out.survey_id().empty()) return "missing field: survey_id";
  if (out.customer_handle().empty()) return "missing field: customer_handle";
  if (out.external_id().empty()) return "missing field: external_id";
  if (out.rating() < 1 || out.rating() > 5) return "rating must be 1 to 5 (the survey's scale)";
  for (const auto* id : {&out.survey_id(), &out.customer_handle(), &out.external_id()})
    if (id->size() > limits.max_id_bytes) return "an id is too long";
  if (out.comment().size() > 4096) return "comment too long (at most 4096 bytes)";
  if (out.channel() != v1::CHANNEL_UNSPECIFIED && out.channel() != v1::CHANNEL_WEBHOOK)
    return "channel must be CHANNEL_WEBHOOK or absent";
  return {};
}

// ------------------------------------------------------------------ connector

namespace {
constexpr std::string_view kRoutePrefix = "/v1/webhook/";
}

WebhookConnector::WebhookConnector(const sdk::Settings& settings)
    : HttpConnector("webhook", settings) {
  limits_.max_body_bytes = static_cast<size_t>(settings.integer("max_body_bytes"));
  limits_.max_attachments = static_cast<size_t>(settings.integer("max_attachments"));
}

WebhookConnector::~WebhookConnector() {
  stop();
}

std::vector<http::Route> WebhookConnector::routes() {
  http::Route route;
  route.prefix = std::string(kRoutePrefix);
  route.max_body_bytes = limits_.max_body_bytes;
  route.handler = [this](http::Request req, http::Respond respond) {
    handle(std::move(req), std::move(respond));
  };
  return {std::move(route)};
}

std::vector<std::string> WebhookConnector::paths() const {
  return {"/v1/webhook/{workspace}/{inbox}/messages", "/v1/webhook/{workspace}/{inbox}/csat"};
}

// POST /v1/webhook/{workspace}/{inbox}/messages (or .../csat: a survey's answer), signed;
// 202 only after Kafka's ack.
void WebhookConnector::handle(http::Request req, http::Respond respond) {
  auto seg = http::path_segments(req.path, kRoutePrefix);
  if (seg.size() != 3 || (seg[2] != "messages" && seg[2] != "csat")) {
    respond(http::Response::error(
        404, "unknown path; POST /v1/webhook/{workspace}/{inbox}/messages or .../csat"));
    return;
  }
  const std::string& ws = seg[0];
  const std::string& inbox_id = seg[1];
  if (req.method != "POST") {
    respond(http::Response::error(405, "use POST"));
    return;
  }
  const sdk::InboxInfo* inbox = host().inbox(ws, inbox_id);
  if (!inbox) {
    respond(http::Response::error(404, "unknown inbox"));
    return;
  }
  if (auto refused = http::check_signed(
          req, kSignatureHeader, [&] { return sign(inbox->settings.str("secret"), req.body); },
          host().logger(), fmt::format("{}/{}", ws, inbox_id))) {
    respond(std::move(*refused));
    return;
  }
  v1::Envelope env;
  if (seg[2] == "csat") {
    v1::CsatAnswer* a = env.mutable_csat();
    if (auto err = parse_csat(req.body, limits_, *a); !err.empty()) {
      host().logger()->info("{}/{}: survey answer rejected: {}", ws, inbox_id, err);
      respond(http::Response::error(400, err));
      return;
    }
    a->set_workspace_id(ws);
    a->set_inbox_id(inbox_id);
    a->set_channel(v1::CHANNEL_WEBHOOK);
    a->clear_event_id();
    a->clear_at_ms();
  } else if (auto err = accept_message(req.body, ws, inbox_id, env.mutable_message());
             !err.empty()) {
    host().logger()->info("{}/{}: request rejected: {}", ws, inbox_id, err);
    respond(http::Response::error(400, err));
    return;
  }
  publish_and_answer(std::move(env), std::move(respond), [](const sdk::PublishResult& r) {
    return http::Response::json(
        202, nlohmann::json{{"status", "accepted"}, {"event_id", r.event_id}}.dump());
  });
}

std::string WebhookConnector::accept_message(const std::string& body, const std::string& ws,
                                             const std::string& inbox_id, v1::InboundMessage* msg) {
  if (auto err = parse_inbound(body, limits_, *msg); !err.empty()) return err;
  if ((!msg->workspace_id().empty() && msg->workspace_id() != ws) ||
      (!msg->inbox_id().empty() && msg->inbox_id() != inbox_id))
    return "workspace_id/inbox_id in body differ from the URL";
  msg->set_workspace_id(ws);
  msg->set_inbox_id(inbox_id);
  msg->set_channel(v1::CHANNEL_WEBHOOK);
  msg->clear_event_id();  // the host assigns it
  return {};
}

PostResult signed_post(const std::string& url, std::string_view secret, const std::string& body,
                       const std::string& delivery_id, long timeout_ms) {
  http::ClientRequest req;
  req.url = url;
  req.headers.push_back("Content-Type: application/json");
  if (!secret.empty())
    req.headers.push_back(fmt::format("{}: {}", kSignatureHeader, sign(secret, body)));
  if (!delivery_id.empty())
    req.headers.push_back(fmt::format("{}: {}", kDeliveryIdHeader, delivery_id));
  req.body = body;
  req.timeout_ms = timeout_ms;
  auto r = http::send(req);
  return {r.status, r.body.substr(0, 2048), r.error};
}

sdk::DeliveryResult WebhookConnector::deliver(const v1::OutboundMessage& message,
                                              const sdk::InboxInfo& inbox) {
  const std::string url = inbox.settings.str("callback_url");
  if (url.empty()) return sdk::DeliveryResult::failed("inbox has no callback_url");
  std::string body;
  google::protobuf::util::JsonPrintOptions po;
  po.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(message, &body, po).ok()) {
    return sdk::DeliveryResult::failed("cannot encode reply as JSON");
  }
  http::ClientResponse r;
  {
    PostResult p = signed_post(url, inbox.settings.str("secret"), body, message.outbound_id(),
                               static_cast<long>(settings().integer("delivery_timeout_ms")));
    r.status = p.status;
    r.body = std::move(p.body);
    r.error = std::move(p.curl_error);
  }
  return http::classify(r, "callback");
}

}  // namespace omniroute::connectors::webhook

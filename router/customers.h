// Customers: which customer a channel handle is, the identities that link customers
// across channels, and the conversations of a customer. Part of the engine's state, used
// inside its batches; no I/O besides the store.
//
// Keys in the customers family:
//   <ws>/h/<channel>:<handle>          -> customer id (the customer a channel handle is)
//   <ws>/i/<kind>:<value>              -> customer id (who first showed a verified identity)
//   <ws>/u/<customer id>               -> Customer
//   <ws>/x/<customer id>/<ms:013>/<c>  -> ""  (the customer's conversations, oldest first)
//
// Linking customer A into B sets A.merged_into = B: A keeps its record and handles, and
// every lookup follows merged_into to the root, which holds the shared profile (last
// agent for sticky routing, language, attributes). Unlinking clears it, so a link is
// undone exactly; the pair is then remembered so the same identity does not re-link it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "omniroute/v1/events.pb.h"
#include "omniroute/v1/store.pb.h"
#include "router/errors.h"
#include "router/store.h"

namespace omniroute::router {

class Customers {
 public:
  // Bounds that keep a link group and its records small.
  static constexpr int kMaxDepth = 8;        // merged_into hops from any member to its root
  static constexpr int kMaxGroup = 64;       // customers in one link group
  static constexpr int kMaxIdentities = 16;  // identities and claims kept per customer

  explicit Customers(Store& store) : store_(store) {}

  struct Resolved {
    v1::store::Customer direct;  // the record of the handle itself
    v1::store::Customer root;    // the group's root (== direct when not linked)
    bool created = false;
  };
  // The customer a "<channel>:<handle>" is, created with `new_id()` when unknown.
  Resolved resolve(Store::Batch& b, const std::string& ws, const std::string& handle, int64_t now,
                   const std::function<std::string()>& new_id);

  bool load(Store::Batch& b, const std::string& ws, const std::string& id,
            v1::store::Customer& out);
  // The root of `id`'s group (itself when not linked). False when `id` is unknown.
  bool root(Store::Batch& b, const std::string& ws, const std::string& id,
            v1::store::Customer& out);
  void save(Store::Batch& b, const v1::store::Customer& c);

  // Records that `r.direct` showed `identity`. A verified identity first shown by another
  // customer links the two groups (unless an agent separated them before); the description
  // of what happened is returned ("" = nothing to say), `*linked` tells whether a link was
  // made, and `r` is updated.
  std::string observe(Store::Batch& b, const std::string& ws, Resolved& r,
                      const v1::Identity& identity, bool* linked);

  // Links `id`'s group into `into`'s group; refused kNotFound (an unknown customer) or
  // kConflict. Customers an agent separated are linked again only by an agent (`by_agent`).
  Status link(Store::Batch& b, const std::string& ws, const std::string& id,
              const std::string& into, bool by_agent);
  // Takes `id` (and the customers linked into it) out of its group; refused kNotFound or
  // kConflict (not linked, or the root).
  Status unlink(Store::Batch& b, const std::string& ws, const std::string& id);
  // Every customer of the group rooted at `root_id`, root first.
  std::vector<std::string> group(Store::Batch& b, const std::string& ws,
                                 const std::string& root_id);

  // Conversation index.
  void add_conversation(Store::Batch& b, const std::string& ws, const std::string& customer_id,
                        int64_t created_ms, const std::string& conversation_id);
  // The newest `limit` conversations of these customers (committed state), newest first.
  std::vector<std::string> conversations(const std::string& ws,
                                         const std::vector<std::string>& customer_ids,
                                         size_t limit);

 private:
  static std::string handle_key(const std::string& ws, const std::string& handle);
  static std::string record_key(const std::string& ws, const std::string& id);
  int depth_below(Store::Batch& b, const std::string& ws, const std::string& id, int limit);
  Store& store_;
};

// "email:ana@example.com" etc. Empty when the identity is not usable.
std::string identity_key(const v1::Identity& id);

}  // namespace omniroute::router

// stdlib/responses.h: alert responses, a built-in of the language (docs/events.md, "Alert
// responses"; docs/language.md, "Responses to alerts"). An acknowledgement, override or
// escalation of one of rule R's alerts comes back as an event; rules read the responses
// of each kind to R's alerts as the text signal `R.acknowledged`, `R.overridden`,
// `R.escalated`, whose value is who responded.
#pragma once

#include <string_view>

namespace cdr::stdlib {

struct ResponseKind {
  std::string_view action;  // the event's `response.action`
  std::string_view member;  // the signal `R.member`
};
inline constexpr ResponseKind kResponses[] = {
    {"acknowledge", "acknowledged"}, {"override", "overridden"}, {"escalate", "escalated"}};

/// The kind whose responses `member` of `rule.member` names, or null.
inline const ResponseKind* ResponseOfMember(std::string_view member) {
  for (const ResponseKind& kind : kResponses) {
    if (member == kind.member) return &kind;
  }
  return nullptr;
}

/// Whether `member` of `rule.member` names the responses to the rule's alerts.
inline bool IsResponseMember(std::string_view member) { return ResponseOfMember(member) != nullptr; }

/// The kind of a response's `action`, or null.
inline const ResponseKind* ResponseOfAction(std::string_view action) {
  for (const ResponseKind& kind : kResponses) {
    if (action == kind.action) return &kind;
  }
  return nullptr;
}

}  // namespace cdr::stdlib

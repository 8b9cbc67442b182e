// Satisfaction surveys (OutboundMessage.survey) for connector authors: what a rating
// button carries, its caption, the text fallback, and turning a pressed button (which
// platforms report as a message: a WhatsApp interactive reply, a Messenger quick reply,
// a Telegram callback) into the answer the router takes (CsatAnswer).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "omniroute/v1/events.pb.h"

namespace omniroute::sdk {

// "csat:<survey id>:<rating>": the id a button, quick reply or keyboard key carries.
std::string survey_payload(const v1::Survey& s, uint32_t rating);
// The survey id and rating `payload` carries; false when it is not a survey payload.
bool parse_survey_payload(std::string_view payload, std::string* survey_id, uint32_t* rating);
// A button's caption for `rating` of `scale`: "4 ★★★★" (the number first, for screen readers).
std::string rating_caption(uint32_t rating, uint32_t scale);
// The question with how to answer in text ("Reply with a number from 1 to 5"), for
// channels without buttons (SMS) — in the survey's language where known (English else).
std::string survey_text(const v1::Survey& s);
// A press of a survey button reported as a customer message (provider metadata
// reply_id / quick_reply_payload / callback_data / button_payload) -> the answer, with the
// message's workspace, inbox, handle and id. False (out untouched) when `m` is not one.
bool as_survey_answer(const v1::InboundMessage& m, v1::Envelope* out);
// Whether an outbound id is a survey's (the router ends them "/csat"): a reply to it is
// read as a rating when it starts with a digit (email).
bool is_survey_id(std::string_view outbound_id);
// A digit reply ("4", "4 great service", "5!") to a survey: its rating and comment.
bool parse_digit_reply(std::string_view text, uint32_t scale, uint32_t* rating,
                       std::string* comment);

}  // namespace omniroute::sdk

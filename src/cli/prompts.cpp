// The prompts file of `aibatch run`.
#include "prompts.hpp"

#include <boost/json/parse.hpp>

#include <fstream>
#include <sstream>

namespace aibatch::cli {

namespace json = boost::json;

std::string read_file(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw usage_error(std::string("cannot read the ") + what + " file " + path +
                          "; check the path");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

namespace {

turn turn_from_json(const json::value& v, const std::string& where) {
    if (!v.is_object())
        throw usage_error(where + ": a message must be {\"role\":\"user\"|\"assistant\", "
                                  "\"content\": text or content blocks}");
    const auto& o = v.get_object();
    const auto* r = o.if_contains("role");
    const auto* c = o.if_contains("content");
    if (!r || !r->is_string() || (r->get_string() != "user" && r->get_string() != "assistant"))
        throw usage_error(where + ": \"role\" must be \"user\" or \"assistant\"");
    turn t;
    t.role = r->get_string() == "user" ? role::user : role::assistant;
    if (c && c->is_string())
        t.text = std::string(c->get_string());
    else if (c && c->is_array())
        t.blocks = c->get_array();
    else
        throw usage_error(where + ": \"content\" must be a string or an array of content blocks");
    return t;
}

} // namespace

std::vector<prompt> read_prompts(const std::string& file) {
    std::istringstream in(read_file(file, "prompts"));
    std::vector<prompt> out;
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) {
        ++n;
        if (n == 1 && line.starts_with("\xEF\xBB\xBF"))
            line.erase(0, 3); // a UTF-8 byte order mark (editors on Windows write one)
        if (line.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        const std::string where = file + ":" + std::to_string(n);
        boost::system::error_code ec;
        json::value v = json::parse(line, ec);
        if (ec)
            throw usage_error(where + ": not JSON (" + ec.message() +
                              "); write each prompt as a JSON string, {\"id\":...,\"text\":...} "
                              "or {\"id\":...,\"messages\":[...]}");
        prompt p;
        if (v.is_string()) {
            p.messages.push_back(user(std::string(v.get_string())));
        } else if (v.is_object()) {
            const auto& o = v.get_object();
            if (const auto* id = o.if_contains("id"))
                p.id = *id;
            const auto* text = o.if_contains("text");
            const auto* msgs = o.if_contains("messages");
            for (const auto& kv : o)
                if (kv.key() != "id" && kv.key() != "text" && kv.key() != "messages")
                    throw usage_error(where + ": unknown field \"" + std::string(kv.key()) +
                                      "\"; a prompt object has id and text or messages");
            if ((text != nullptr) == (msgs != nullptr))
                throw usage_error(where + ": give either \"text\" or \"messages\"");
            if (text) {
                if (!text->is_string())
                    throw usage_error(where + ": \"text\" must be a string");
                p.messages.push_back(user(std::string(text->get_string())));
            } else {
                if (!msgs->is_array() || msgs->get_array().empty())
                    throw usage_error(where + ": \"messages\" must be a non-empty array");
                const auto& a = msgs->get_array();
                for (std::size_t i = 0; i < a.size(); ++i)
                    p.messages.push_back(
                        turn_from_json(a[i], where + ": messages[" + std::to_string(i) + "]"));
            }
        } else {
            throw usage_error(where + ": expected a JSON string or an object with \"text\" or "
                                      "\"messages\"");
        }
        out.push_back(std::move(p));
    }
    if (out.empty())
        throw usage_error(file + " holds no prompts; write one a line");
    return out;
}

} // namespace aibatch::cli

// The JSON Schema of a type (schema_builder, for json_schema<T>): each json_traits<T>
// gives its own; described structs get properties, required, descriptions and
// constraints from field_doc, and $defs with a $ref where they recurse.
// Part of detail/schema_impl.hpp (see there): reached through <aibatch/typed/schema.hpp>,
// which declares what it builds on; never included on its own.
#pragma once

#include <aibatch/detail/schema/decode_hooks.hpp>
#include <aibatch/detail/schema/type_facts.hpp>

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <boost/mp11/algorithm.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <typeindex>
#include <vector>

namespace aibatch::detail {

// ------------------------------------------------------------------ schema
class schema_builder {
public:
    explicit schema_builder(const schema_options& o) : opts_(o) {}

    const schema_options& options() const noexcept { return opts_; }

    template <class T>
    boost::json::value build() {
        static_assert(supported_type<T>,
                      "aibatch: this type has no JSON Schema; describe it with "
                      "BOOST_DESCRIBE_STRUCT / BOOST_DESCRIBE_ENUM or specialise "
                      "aibatch::schema_traits");
        return traits_for<T>::schema(*this);
    }

    void finish(boost::json::object& root) {
        if (!defs_.empty())
            root["$defs"] = std::move(defs_);
    }

    /// The schema of a described struct: its properties, or a $ref when it recurses.
    template <class T>
    boost::json::value build_struct() {
        std::type_index ti(typeid(T));
        if (std::find(stack_.begin(), stack_.end(), ti) != stack_.end()) {
            recursive_.insert(ti);
            return boost::json::object{{"$ref", "#/$defs/" + def_name(ti, type_name<T>())}};
        }
        stack_.push_back(ti);
        boost::json::object s;
        s["type"] = "object";
        if constexpr (documented_type<T>)
            s["description"] = std::string_view(schema_docs<T>::description);
        boost::json::object props;
        boost::json::array required;
        const auto& docs = field_docs_of<T>();
        std::size_t i = 0;
        boost::mp11::mp_for_each<members_of<T>>([&](auto D) {
            using M = std::remove_cvref_t<decltype(std::declval<T&>().*D.pointer)>;
            boost::json::value p = build<M>();
            if constexpr (is_optional<M>::value) {
                if (opts_.nullable_optionals)
                    p = make_nullable(std::move(p));
            } else {
                required.emplace_back(D.name);
            }
            if (const field_doc* fd = docs[i]; fd && p.is_object())
                apply_doc(p.get_object(), *fd);
            props[D.name] = std::move(p);
            ++i;
        });
        s["properties"] = std::move(props);
        s["required"] = std::move(required);
        s["additionalProperties"] = false;
        stack_.pop_back();
        if (recursive_.count(ti)) {
            const std::string& name = def_name(ti, type_name<T>());
            defs_[name] = s;
            if (!stack_.empty())
                return boost::json::object{{"$ref", "#/$defs/" + name}};
        }
        return s;
    }

private:
    /// T's key in $defs: its type_name(), with a suffix when another type of the schema
    /// has that name (two `node`s of different namespaces must not share one entry).
    const std::string& def_name(std::type_index ti, const std::string& base) {
        auto it = def_names_.find(ti);
        if (it != def_names_.end())
            return it->second;
        std::string name = base;
        for (int k = 2; !used_def_names_.insert(name).second; ++k)
            name = base + "_" + std::to_string(k);
        return def_names_.emplace(ti, std::move(name)).first->second;
    }

    static boost::json::value make_nullable(boost::json::value p) {
        if (p.is_object()) {
            auto& o = p.get_object();
            if (auto* t = o.if_contains("type"); t && t->is_string() && !o.contains("enum")) {
                *t = boost::json::array{*t, "null"};
                return p;
            }
        }
        return boost::json::object{
            {"anyOf", boost::json::array{std::move(p), boost::json::object{{"type", "null"}}}}};
    }

    void apply_doc(boost::json::object& p, const field_doc& fd) const {
        if (!fd.description.empty())
            p["description"] = fd.description;
        if (!opts_.constraints)
            return;
        // Decide before inserting: an insertion may rehash `p` and move its values.
        bool is_array = false;
        if (const auto* t = p.if_contains("type")) {
            if (t->is_string())
                is_array = t->get_string() == "array";
            else if (t->is_array())
                for (const auto& x : t->get_array())
                    is_array = is_array || (x.is_string() && x.get_string() == "array");
        }
        if (fd.minimum)
            p["minimum"] = *fd.minimum;
        if (fd.maximum)
            p["maximum"] = *fd.maximum;
        if (is_array) {
            if (fd.min_length)
                p["minItems"] = *fd.min_length;
            if (fd.max_length)
                p["maxItems"] = *fd.max_length;
        } else {
            if (fd.min_length)
                p["minLength"] = *fd.min_length;
            if (fd.max_length)
                p["maxLength"] = *fd.max_length;
        }
    }

    schema_options opts_;
    std::vector<std::type_index> stack_;
    std::set<std::type_index> recursive_;
    std::map<std::type_index, std::string> def_names_;
    std::set<std::string> used_def_names_;
    boost::json::object defs_;
};

} // namespace aibatch::detail

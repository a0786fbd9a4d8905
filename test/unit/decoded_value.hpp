// A decoded C++ value back as JSON, to compare what two decoders produced (tests and
// fuzz targets only). Types a schema_traits decodes provide `encode_custom(const T&)`,
// found by argument-dependent lookup.
#pragma once

#include <aibatch/typed/schema.hpp>

#include <boost/describe/enum_to_string.hpp>
#include <boost/json/value.hpp>

#include <string>

namespace aibatch_test {

template <class T>
boost::json::value decoded_value(const T& v) {
    namespace d = aibatch::detail;
    if constexpr (d::has_schema_traits<T>) {
        return encode_custom(v);
    } else if constexpr (std::is_same_v<T, bool> || std::is_integral_v<T>) {
        return boost::json::value(v);
    } else if constexpr (std::is_floating_point_v<T>) {
        return boost::json::value(static_cast<double>(v));
    } else if constexpr (std::is_same_v<T, std::string>) {
        return boost::json::value(boost::json::string(v));
    } else if constexpr (d::described_enum<T>) {
        return boost::json::value(boost::describe::enum_to_string(v, "?"));
    } else if constexpr (d::is_optional<T>::value) {
        return v ? decoded_value(*v) : boost::json::value(nullptr);
    } else if constexpr (d::is_vector<T>::value || d::is_std_array<T>::value) {
        boost::json::array a;
        // the element as its value_type: std::vector<bool> gives a proxy (libc++'s is no bool)
        for (const auto& e : v)
            a.push_back(decoded_value(static_cast<const typename T::value_type&>(e)));
        return a;
    } else if constexpr (d::is_string_map<T>::value) {
        boost::json::object o;
        for (const auto& [k, e] : v)
            o[k] = decoded_value(e);
        return o;
    } else if constexpr (std::is_same_v<T, boost::json::value>) {
        return v;
    } else {
        boost::json::object o;
        boost::mp11::mp_for_each<d::members_of<T>>(
            [&](auto D) { o[D.name] = decoded_value(v.*D.pointer); });
        return o;
    }
}

} // namespace aibatch_test

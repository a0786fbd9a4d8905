// aibatch::shared_string (item_report::batch_id): copies share one string, and it reads
// like a const std::string in the ways user code reads an id.
#include <aibatch/batch/batch_options.hpp>
#include <aibatch/shared_string.hpp>

#include <boost/json/value_from.hpp>

#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>
#include <string_view>
#include <unordered_set>

using aibatch::shared_string;

BOOST_AUTO_TEST_SUITE(shared_string_reads)

BOOST_AUTO_TEST_CASE(copies_share_the_characters_and_assignment_replaces_them) {
    shared_string a = std::string("msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d");
    shared_string b = a;
    BOOST_TEST(a.data() == b.data()); // one string, two holders
    b = "msgbatch_other";
    BOOST_TEST(a == "msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d"); // a is unchanged
    BOOST_TEST(b == "msgbatch_other");
    BOOST_TEST(a != b);
    shared_string none;
    BOOST_TEST(none.empty());
    BOOST_TEST(none.size() == 0u);
    BOOST_TEST(std::string(none.c_str()).empty());
    BOOST_TEST(none == shared_string(std::string()));
    none = std::string_view("x");
    BOOST_TEST(!none.empty());
    none = {}; // what std::string code does to empty an id
    BOOST_TEST(none.empty());
    none = "y";
    none.clear();
    BOOST_TEST(none.empty());
    BOOST_TEST(b == "msgbatch_other"); // b is unchanged
}

BOOST_AUTO_TEST_CASE(it_reads_like_a_const_std_string) {
    const std::string id = "msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d";
    shared_string s = id;
    const std::string& ref = s; // binds to the shared string
    BOOST_TEST(ref == id);
    std::string copy = s;
    BOOST_TEST(copy == id);
    std::string_view view = s;
    BOOST_TEST(view == id);
    BOOST_TEST(s == id);
    BOOST_TEST(id == s);
    BOOST_TEST(s == std::string_view(id));
    BOOST_TEST(s.size() == id.size());
    BOOST_TEST(std::string(s.begin(), s.end()) == id);
    BOOST_TEST("batch " + s.str() == "batch " + id);
    BOOST_TEST(s.str().substr(0, 9) == "msgbatch_");
    std::ostringstream os;
    os << s;
    BOOST_TEST(os.str() == id);
    BOOST_TEST((shared_string("a") < shared_string("b")));
    std::unordered_set<shared_string> set{s, shared_string(id)};
    BOOST_TEST(set.size() == 1u);
    BOOST_TEST(s.substr(0, 9) == "msgbatch_");
    BOOST_TEST(s.find("01Hk") == 9u);
    BOOST_TEST(s.starts_with("msgbatch_"));
    BOOST_TEST(s.ends_with("V8d"));
    BOOST_TEST(s[0] == 'm');
    BOOST_TEST(s.compare(id) == 0);
}

BOOST_AUTO_TEST_CASE(an_item_reports_batch_id_goes_into_json_and_api_calls) {
    aibatch::item_report r;
    r.batch_id = "msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d";
    BOOST_TEST(boost::json::value_from(r.batch_id) ==
               boost::json::value("msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d"));
    BOOST_TEST(boost::json::value(r.batch_id.str()).as_string() == r.batch_id.str());
    auto takes_string = [](std::string id) { return id; };
    BOOST_TEST(takes_string(r.batch_id) == r.batch_id);
}

BOOST_AUTO_TEST_SUITE_END()

// Separate compilation of Asio and Beast (with their SSL parts): the only translation
// unit that sees their implementation. Keeps every other file quick to build.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>

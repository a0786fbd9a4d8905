// The program compiles Asio, its SSL part and Beast itself, as a program or a second
// library with Asio's separate compilation does.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>

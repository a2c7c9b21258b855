#define BOOST_TEST_MODULE kage
#include <boost/test/unit_test.hpp>

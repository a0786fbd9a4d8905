// Placeholder until batch<T>() lands: shows the configuration that would be used.
#include <aibatch/aibatch.hpp>

#include <iostream>

int main() {
    auto cfg = aibatch::client_config::from_env();
    std::cout << "aibatch " << AIBATCH_VERSION_STRING << ": base URL " << cfg.base_url
              << ", API key " << cfg.redacted_api_key() << "\n";
}

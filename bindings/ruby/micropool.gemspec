# frozen_string_literal: true

require_relative "lib/micropool/version"

Gem::Specification.new do |spec|
  spec.name = "micropool"
  spec.version = Micropool::VERSION
  spec.summary = "Ruby binding of micropool, a low-latency work-stealing thread pool"
  spec.description = <<~TEXT
    Micropool::Pool runs Ruby blocks on libmicropool (join, each_range, reduce,
    broadcast, scopes, background tasks) through the ffi gem, and ships C
    kernels (sum, sort, map over numeric buffers) that run on every pool
    thread at once with the GVL released. Needs libmicropool installed
    (Debian: libmicropool-dev): the kernels are built against it at install
    time, found with pkg-config.
  TEXT
  spec.authors = ["micropool maintainers"]
  spec.license = "MIT"
  spec.required_ruby_version = ">= 3.0"
  spec.files = Dir["lib/**/*.rb", "ext/*.[ch]", "ext/extconf.rb", "test/*.rb", "bench/*.rb",
                   "README.md"]
  spec.extensions = ["ext/extconf.rb"]
  spec.require_paths = ["lib"]
  spec.add_runtime_dependency "ffi", "~> 1.15"
  spec.add_development_dependency "minitest", "~> 5.0"
end

-- Used by binding.lua as a worker_init module name.
init_module_loaded = "yes"

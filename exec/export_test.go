package exec

// WatchDriver lets the external tests run the parent watcher on its own.
var WatchDriver = watchDriver

"""Follow the photo roots: inotify (or polling) events -> debounced index jobs."""

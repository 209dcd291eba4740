"""Photos arriving without a USB stick: browser uploads and the library's trash folder."""

"""Library packs: photos indexed elsewhere (a Ray cluster), imported without encoding."""

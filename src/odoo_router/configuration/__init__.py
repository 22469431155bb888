"""router.yaml -> the typed, validated Config (model.py), with the line of every key."""

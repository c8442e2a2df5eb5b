"""Pure core of the add-on: numpy + stdlib only (no bpy, no mathutils, no torch, no scipy)."""

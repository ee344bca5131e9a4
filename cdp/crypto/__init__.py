"""Keys, envelope encryption, field encryption and blind indexes."""

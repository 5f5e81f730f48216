// Domain names: presentation and wire parsing, canonical ordering and keys.

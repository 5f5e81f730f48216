// DNS message reader (full and allocation-free query parse) and the compressing writer.

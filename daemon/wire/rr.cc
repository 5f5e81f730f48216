// Resource record RDATA codecs: validation, presentation form, and field access.

// DNS code points and their mnemonics.

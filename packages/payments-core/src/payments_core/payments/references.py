"""System payment references: `PAY-` and 16 unambiguous random characters."""

import secrets

# Crockford's base32 alphabet: no I, L, O or U, so references read aloud without mistakes.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference() -> str:
    return "PAY-" + "".join(secrets.choice(_ALPHABET) for _ in range(16))

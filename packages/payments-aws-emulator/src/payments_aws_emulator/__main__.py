"""`python -m payments_aws_emulator [-H HOST] [-p PORT]`: moto's server, mended."""

from payments_aws_emulator.mends import main

main()

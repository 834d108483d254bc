"""Code the tests share that is not a fixture: the digits vertical slice."""

"""`python -m lifeline_servers`: print which servers the test suite will use."""

from lifeline_servers.policy import KINDS, describe


def main() -> None:
    for kind in KINDS:
        print(f"test servers: {describe(kind)}")


if __name__ == "__main__":
    main()

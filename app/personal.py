"""Personal data rules: Chinese resident ID numbers (GB 11643)."""

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def id_check_digit(body17):
    """The check character of an 18-character resident ID number, from its first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(body17, ID_WEIGHTS))
    return ID_CHECK[total % 11]


def complete_id_number(body17):
    """A full ID number from its first 17 digits."""
    return body17 + id_check_digit(body17)

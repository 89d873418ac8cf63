"""NTSTATUS: the values the literature uses, their severity, and how they print."""

from __future__ import annotations

import pytest

from ntsim.kernel import status
from ntsim.kernel.status import (
    NTSTATUS,
    STATUS_ACCESS_DENIED,
    STATUS_NO_MORE_FILES,
    STATUS_OBJECT_NAME_EXISTS,
    STATUS_SUCCESS,
    STATUS_TIMEOUT,
    NtStatusError,
    nt_success,
)

# ntstatus.h, as the Windows SDK (and Wine's copy of it) defines these codes.
NTSTATUS_H = {
    "STATUS_SUCCESS": 0x00000000, "STATUS_WAIT_0": 0x00000000,
    "STATUS_ABANDONED_WAIT_0": 0x00000080, "STATUS_USER_APC": 0x000000C0,
    "STATUS_ALERTED": 0x00000101, "STATUS_TIMEOUT": 0x00000102, "STATUS_PENDING": 0x00000103,
    "STATUS_OBJECT_NAME_EXISTS": 0x40000000, "STATUS_BUFFER_OVERFLOW": 0x80000005,
    "STATUS_NO_MORE_FILES": 0x80000006, "STATUS_NO_MORE_ENTRIES": 0x8000001A,
    "STATUS_STOPPED_ON_SYMLINK": 0x8000002D,
    "STATUS_UNSUCCESSFUL": 0xC0000001, "STATUS_NOT_IMPLEMENTED": 0xC0000002,
    "STATUS_INVALID_INFO_CLASS": 0xC0000003, "STATUS_INFO_LENGTH_MISMATCH": 0xC0000004,
    "STATUS_ACCESS_VIOLATION": 0xC0000005, "STATUS_INVALID_HANDLE": 0xC0000008,
    "STATUS_INVALID_PARAMETER": 0xC000000D, "STATUS_NO_SUCH_FILE": 0xC000000F,
    "STATUS_INVALID_DEVICE_REQUEST": 0xC0000010, "STATUS_END_OF_FILE": 0xC0000011,
    "STATUS_NO_MEMORY": 0xC0000017, "STATUS_CONFLICTING_ADDRESSES": 0xC0000018,
    "STATUS_UNABLE_TO_FREE_VM": 0xC000001A, "STATUS_ILLEGAL_INSTRUCTION": 0xC000001D,
    "STATUS_ACCESS_DENIED": 0xC0000022, "STATUS_BUFFER_TOO_SMALL": 0xC0000023,
    "STATUS_OBJECT_TYPE_MISMATCH": 0xC0000024, "STATUS_NOT_COMMITTED": 0xC000002D,
    "STATUS_PORT_MESSAGE_TOO_LONG": 0xC000002F, "STATUS_OBJECT_NAME_INVALID": 0xC0000033,
    "STATUS_OBJECT_NAME_NOT_FOUND": 0xC0000034, "STATUS_OBJECT_NAME_COLLISION": 0xC0000035,
    "STATUS_PORT_DISCONNECTED": 0xC0000037, "STATUS_OBJECT_PATH_NOT_FOUND": 0xC000003A,
    "STATUS_OBJECT_PATH_SYNTAX_BAD": 0xC000003B, "STATUS_PORT_CONNECTION_REFUSED": 0xC0000041,
    "STATUS_INVALID_PORT_HANDLE": 0xC0000042, "STATUS_SHARING_VIOLATION": 0xC0000043,
    "STATUS_INVALID_PAGE_PROTECTION": 0xC0000045, "STATUS_DELETE_PENDING": 0xC0000056,
    "STATUS_INVALID_IMAGE_FORMAT": 0xC000007B, "STATUS_DISK_FULL": 0xC000007F,
    "STATUS_INTEGER_DIVIDE_BY_ZERO": 0xC0000094, "STATUS_FREE_VM_NOT_AT_BASE": 0xC000009F,
    "STATUS_MEMORY_NOT_ALLOCATED": 0xC00000A0, "STATUS_FILE_IS_A_DIRECTORY": 0xC00000BA,
    "STATUS_NOT_SUPPORTED": 0xC00000BB, "STATUS_NOT_SAME_DEVICE": 0xC00000D4,
    "STATUS_DIRECTORY_NOT_EMPTY": 0xC0000101, "STATUS_NOT_A_DIRECTORY": 0xC0000103,
    "STATUS_NAME_TOO_LONG": 0xC0000106, "STATUS_PROCESS_IS_TERMINATING": 0xC000010A,
    "STATUS_CANNOT_DELETE": 0xC0000121, "STATUS_INVALID_ADDRESS": 0xC0000141,
    "STATUS_PIPE_BROKEN": 0xC000014B, "STATUS_TOO_MANY_LINKS": 0xC0000265,
    "STATUS_NOT_A_REPARSE_POINT": 0xC0000275, "STATUS_REPARSE_POINT_NOT_RESOLVED": 0xC0000280,
}

DEFINED = sorted(name for name in vars(status) if name.startswith("STATUS_"))


@pytest.mark.parametrize("name", DEFINED)
def test_every_status_has_the_value_ntstatus_h_gives_it(name):
    assert name in NTSTATUS_H, f"{name} is not in the reference table: add it from ntstatus.h"
    assert getattr(status, name) == NTSTATUS_H[name]


@pytest.mark.parametrize("name", DEFINED)
def test_every_status_prints_with_a_name_of_its_value(name):
    value = getattr(status, name)
    assert NTSTATUS_H[value.name] == NTSTATUS_H[name]


def test_a_status_prints_with_its_name():
    assert str(STATUS_ACCESS_DENIED) == "STATUS_ACCESS_DENIED"
    assert repr(STATUS_TIMEOUT) == "STATUS_TIMEOUT"


def test_a_status_without_a_name_prints_as_hex():
    assert str(NTSTATUS(0xC0DE0001)) == "0xC0DE0001"


def test_a_negative_value_is_the_same_32_bit_status():
    # C code often shows NTSTATUS as a signed LONG: 0xC0000022 is -1073741790
    assert NTSTATUS(-1073741790) == STATUS_ACCESS_DENIED


@pytest.mark.parametrize("value, succeeded", [
    (STATUS_SUCCESS, True), (STATUS_TIMEOUT, True),            # success severity
    (STATUS_OBJECT_NAME_EXISTS, True),                          # informational
    (STATUS_NO_MORE_FILES, False),                              # warning
    (STATUS_ACCESS_DENIED, False),                              # error
])
def test_nt_success_is_true_for_success_and_informational_severities(value, succeeded):
    assert nt_success(value) is succeeded


def test_an_error_says_its_status_and_what_failed():
    error = NtStatusError(STATUS_ACCESS_DENIED, "C:\\secret")
    assert error.status == STATUS_ACCESS_DENIED
    assert str(error) == "STATUS_ACCESS_DENIED: C:\\secret"

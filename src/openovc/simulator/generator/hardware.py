"""Host hardware of a simulated HPE SimpliVity 380: drive layouts and the /hosts/{id}/hardware document."""

from __future__ import annotations

import random
from dataclasses import dataclass

HOST_MODEL = "HPE SimpliVity 380 Series 4000"
SERVER_MODEL = "ProLiant DL380 Gen10"
FILL_TARGET = 0.6  # sized so the busiest host of a cluster is at most this full


@dataclass(frozen=True)
class Drive:
    capacity: int  # bytes, as the drive reports them
    model: str


SSD_1_92 = Drive(1_920_383_410_176, "VK001920GWSXK")
SSD_3_84 = Drive(3_840_755_982_336, "VK003840GWSXL")
SSD_7_68 = Drive(7_681_501_126_656, "VK007680GWSXN")


@dataclass(frozen=True)
class DriveLayout:
    """One logical drive over one drive set: RAID 5 below nine drives, RAID 6 from nine."""

    drives: int
    drive: Drive

    @property
    def raid_level(self) -> int:
        return 5 if self.drives < 9 else 6

    @property
    def capacity(self) -> int:
        parity = 1 if self.raid_level == 5 else 2
        return (self.drives - parity) * self.drive.capacity


LAYOUTS: tuple[DriveLayout, ...] = tuple(
    sorted(
        (
            DriveLayout(5, SSD_1_92),
            DriveLayout(9, SSD_1_92),
            DriveLayout(12, SSD_1_92),
            DriveLayout(9, SSD_3_84),
            DriveLayout(12, SSD_3_84),
            DriveLayout(12, SSD_7_68),
            DriveLayout(24, SSD_7_68),
        ),
        key=lambda layout: layout.capacity,
    )
)


def layout_for(peak_used: int) -> DriveLayout:
    """The smallest layout that keeps the busiest host under the fill target."""
    for layout in LAYOUTS:
        if peak_used <= layout.capacity * FILL_TARGET:
            return layout
    return LAYOUTS[-1]


def _serial(rng: random.Random, prefix: str, length: int) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
    return prefix + "".join(rng.choice(alphabet) for _ in range(length - len(prefix)))


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}X}"


def document(rng: random.Random, host_id: str, host_name: str, layout: DriveLayout) -> dict[str, object]:
    """The host_hardware object of GET /hosts/{id}/hardware, with the drive arrays clients iterate."""
    drives: list[dict[str, object]] = []
    for n in range(1, layout.drives + 1):
        drives.append(
            {
                "slot": n,
                "drive_position": f"1I:1:{n}" if n <= 12 else f"2I:2:{n - 12}",
                "enclosure": 1 if n <= 12 else 2,
                "capacity": layout.drive.capacity,
                "media_type": "SSD",
                "health": "HEALTHY",
                "status": "GREEN",
                "life_remaining": rng.randint(88, 100),
                "percent_rebuilt": 100,
                "additional_status": "",
                "wwn": "5" + _hex(rng, 15),
                "manufacturer": "HPE",
                "model_number": layout.drive.model,
                "serial_number": _serial(rng, "S4", 14),
                "firmware_revision": "HPG3",
            }
        )
    controller_firmware = "3.53"
    return {
        "name": host_name,
        "host_id": host_id,
        "serial_number": _serial(rng, "CZJ", 10),
        "manufacturer": "HPE",
        "model_number": SERVER_MODEL,
        "firmware_revision": "U30 v2.68 (07/14/2022)",
        "status": "GREEN",
        "raid_card": {
            "product_name": "HPE Smart Array P816i-a SR Gen10",
            "model_number": "P816i-a",
            "serial_number": _serial(rng, "PEYHC0", 14),
            "firmware_revision": controller_firmware,
            "manufacturer": "HPE",
            "has_bbu": "true",
            "status": "GREEN",
        },
        "battery": {
            "health": "HEALTHY",
            "percent_charged": 100,
            "manufacturing_date": f"20{rng.randint(19, 22)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "manufacturer": "HPE",
            "model_number": "P01366-B21",
            "serial_number": _serial(rng, "6EZBP0", 14),
            "firmware_revision": "1.1",
            "status": "GREEN",
        },
        "accelerator_card": {
            "model_number": "OmniStack Accelerator Card",
            "serial_number": _serial(rng, "OAC", 12),
            "firmware_revision": "5.3.1",
            "status": "GREEN",
            "temperature": rng.randint(44, 58),
        },
        "logical_drives": [
            {
                "name": "Logical Drive 1",
                "capacity": layout.capacity,
                "cache_state": "ENABLED",
                "health": "HEALTHY",
                "status": "GREEN",
                "manufacturer": "HPE",
                "model_number": f"RAID {layout.raid_level}",
                "serial_number": "600508B1001C" + _hex(rng, 20),
                "firmware_revision": controller_firmware,
                "drive_sets": [
                    {
                        "drive_number": 1,
                        "health": "HEALTHY",
                        "status": "GREEN",
                        "manufacturer": "HPE",
                        "model_number": layout.drive.model,
                        "serial_number": _serial(rng, "DS", 12),
                        "firmware_revision": "HPG3",
                        "physical_drives": drives,
                    }
                ],
            }
        ],
    }

"""The words pages use for the service's values: statuses, kinds, conditions, moves."""



from inventory.models import DeviceStatus, WipeMethod
from inventory.schemas import DeviceCreate
from labels import TEMPLATES

STATUS_LABELS = {
    "available": "Available", "on_loan": "On loan", "awaiting_wipe": "Awaiting wipe",
    "in_repair": "In repair", "lost": "Lost", "retired": "Retired",
    # loans
    "active": "Active", "overdue": "Overdue", "returned": "Returned",
    # decisions
    "eligible": "Eligible", "ineligible": "Not eligible", "needs_review": "Needs review",
    "closed": "Closed",
    # stocktakes
    "open": "Open",
}
# Label stock as people know it; the first is the default on a device page.
LABEL_TEMPLATES = [(name, template.description)
                   for name, template in TEMPLATES.items()]
KIND_LABELS = {"laptop": "Laptop", "phone": "Phone", "tablet": "Tablet", "sim": "Data SIM",
               "hotspot": "Hotspot", "data": "Data voucher"}
CONDITIONS = {"A": "A: as new", "B": "B: light wear", "C": "C: worn but working",
              "D": "D: damaged, needs repair"}
# What a loan is for, as the desk asks it (the values are the API's).
PURPOSES = [("learning", "Learning"), ("work", "Work"), ("health", "Health"),
            ("family", "Family and friends"), ("services", "Reaching services"),
            ("other", "Something else")]
WIPE_METHODS = {WipeMethod.factory_reset.value: "Factory reset",
                WipeMethod.nist_clear.value: "Overwrite (NIST 800-88 Clear)",
                WipeMethod.nist_purge.value: "Cryptographic erase (NIST 800-88 Purge)"}
# What a person may move a device to by hand, and how the choice is put to them.
MOVES = {
    DeviceStatus.in_repair.value: ("Send for repair", "Send for repair"),
    DeviceStatus.awaiting_wipe.value: ("Found, or back from repair: it needs a wipe",
                                       "Mark as needing a wipe"),
    DeviceStatus.lost.value: ("Missing from stock: mark it lost", "Mark as lost"),
    DeviceStatus.retired.value: ("Retire it for good (this cannot be undone)", "Retire"),
}
DEVICE_FORM_FIELDS = tuple(DeviceCreate.model_fields)

LOAN_TABS = (("active", "On time"), ("overdue", "Overdue"), ("returned", "Returned"),
             ("lost", "Lost"), ("more_time", "Asked for more time"), ("", "All"))

# A licence condition about devices, as the desk records it (the values are the API's), with
# what each means for lending.
RESTRICTIONS = [
    ("none", "No licence condition about devices",
     "They may borrow whatever the policy allows."),
    ("no_devices", "No internet-enabled devices",
     "Nothing is lent, and no override lifts it. Only a manager can clear it, with a reason."),
    ("declared_only", "Devices allowed once each loan is declared",
     "A manager records to whom and when each loan was declared, before it is made; the "
     "declaration prints on the agreement."),
]
RESTRICTION_LABELS = {value: text for value, text, _hint in RESTRICTIONS}

# How late an overdue loan is, as the overdue list filters it: words, fewest and most days.
LATE_BANDS = {"1-7": ("1 to 7 days", 1, 7), "8-28": ("8 to 28 days", 8, 28),
              "29-": ("29 days or more", 29, None)}

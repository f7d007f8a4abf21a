"""The demo MSP's people and clients, each client telling one part of the product's story.

To add a client, add a ClientSpec to CLIENTS: the planner makes its history
add up to `final_balance`, and the seed refuses to finish if the services
end anywhere else.
"""

from decimal import Decimal

from agreements.models import CreditPolicy, OveragePolicy, RoundingMode
from demo.seed.specs import (
    AFTER_HOURS,
    EMERGENCY,
    NON_BILLABLE,
    NORMAL,
    AgreementSpec,
    ClientSpec,
    Person,
    Scripted,
)

MSP_DOMAIN = "lakeside-it.example"
STAFF = Person("morgan.lee", "Morgan", "Lee", f"morgan@{MSP_DOMAIN}", title="owner")
BILLING = Person("priya.shah", "Priya", "Shah", f"billing@{MSP_DOMAIN}", title="billing")
TECHNICIANS = (
    Person("jamie.cole", "Jamie", "Cole", f"jamie@{MSP_DOMAIN}"),
    Person("ravi.nair", "Ravi", "Nair", f"ravi@{MSP_DOMAIN}"),
    Person("ana.torres", "Ana", "Torres", f"ana@{MSP_DOMAIN}"),
)
ADMIN_USERNAME = "admin"

CLIENTS: tuple[ClientSpec, ...] = (
    ClientSpec(
        name="Northwind Logistics",
        scenario="healthy: 30 h blocks, any overage billed at the hourly rate",
        billing_email="ap@northwind-logistics.example",
        billing_address="4100 Harbor Industrial Pkwy\nTacoma, WA 98421",
        hourly_rate=Decimal("125.00"),
        contacts=(
            Person("tom.becker", "Tom", "Becker", "tom.becker@northwind-logistics.example"),
            Person("grace.okafor", "Grace", "Okafor", "grace.okafor@northwind-logistics.example", False),
        ),
        blocks=((112, 30), (52, 30)),
        final_balance=1290,
        agreement=AgreementSpec(threshold=240, overage=OveragePolicy.BILL_OVERAGE),
        subjects=(
            "Warehouse handheld scanners not syncing",
            "Label printer at dock 4 prints blank labels",
            "Forklift tablet lost Wi-Fi after AP firmware update",
            "Dispatch screen wall: second monitor not detected",
        ),
        scripted=(
            Scripted(
                days_ago=47,
                work_type=EMERGENCY,
                minutes=150,
                subject="Ransomware alert on a warehouse PC",
                notes="Called out at 6 a.m.: isolated the PC, confirmed the EDR stopped the encryption, "
                "reimaged it and restored the user's files from last night's backup.",
                technician="ravi.nair",
            ),
        ),
    ),
    ClientSpec(
        name="Pinecrest Family Dental",
        scenario="auto-reload: a 20 h block is added when low; an MSA candidate (7 seats)",
        billing_email="office@pinecrest-dental.example",
        billing_address="218 Pinecrest Road, Suite 3\nAsheville, NC 28803",
        contacts=(
            Person("dana.whitfield", "Dana", "Whitfield", "dana@pinecrest-dental.example"),
            Person("marisol.vega", "Marisol", "Vega", "marisol@pinecrest-dental.example", False),
        ),
        blocks=((114, 20), (70, 20), (23, 20)),
        final_balance=930,
        agreement=AgreementSpec(credit=CreditPolicy.IMMEDIATE, reload_tier_hours=20),
        pays_after_days=0,  # ACH on file: each reload is collected the day it is raised
        seats=7,  # and it spends more on blocks than a flat rate for its 7 workstations would cost
        subjects=(
            "Imaging bridge error on operatory 3",
            "Intraoral camera driver broken after Windows update",
            "Front desk card reader not connecting",
            "Practice software backup verification",
        ),
    ),
    ClientSpec(
        name="Harbor Veterinary Clinic",
        scenario="exhausted: new time is refused until a block is sold",
        billing_email="accounts@harborvet.example",
        billing_address="77 Wharf Street\nPortland, ME 04101",
        contacts=(Person("ellen.marsh", "Ellen", "Marsh", "ellen@harborvet.example"),),
        blocks=((108, 10), (55, 10)),
        final_balance=0,
        subjects=(
            "Practice management system slow at front desk",
            "Prescription label printer jams",
            "X-ray workstation cannot reach the image server",
        ),
        scripted=(
            Scripted(
                days_ago=19,
                work_type=NON_BILLABLE,
                minutes=30,
                subject="Follow-up on replaced network switch (warranty RMA)",
                notes="No charge: chased the vendor's RMA for the switch we replaced.",
                technician="jamie.cole",
            ),
        ),
    ),
    ClientSpec(
        name="Brightline Accounting",
        scenario="near its threshold: a few more tickets trigger a reload",
        billing_email="billing@brightline-cpa.example",
        billing_address="9 Commerce Square, 5th floor\nHartford, CT 06103",
        hourly_rate=Decimal("110.00"),
        contacts=(
            Person("howard.lin", "Howard", "Lin", "howard.lin@brightline-cpa.example"),
            Person("keisha.brown", "Keisha", "Brown", "keisha.brown@brightline-cpa.example", False),
        ),
        blocks=((98, 20),),
        final_balance=150,
        # Accountants bill in tenths of an hour themselves and expect the same.
        agreement=AgreementSpec(increment=6, rounding=RoundingMode.NEAREST),
        pays_after_days=7,
        subjects=(
            "Tax software update before the filing deadline",
            "Client portal uploads failing",
            "Scanner profiles for tax season",
        ),
        scripted=(
            Scripted(
                days_ago=12,
                work_type=NORMAL,
                minutes=5,
                subject="Quick advice: is this 'IRS' email genuine?",
                notes="Five-minute call: phishing; told them not to click and reported it.",
                technician="ana.torres",
            ),
        ),
    ),
    ClientSpec(
        name="Oakridge Law Group",
        scenario="low: at or below its threshold, a reload is due",
        billing_email="accounting@oakridgelaw.example",
        billing_address="1500 Oak Street\nBoise, ID 83702",
        hourly_rate=Decimal("120.00"),
        contacts=(
            Person("rebecca.stein", "Rebecca", "Stein", "rstein@oakridgelaw.example", False),
            Person("carlos.mendez", "Carlos", "Mendez", "cmendez@oakridgelaw.example"),
        ),
        blocks=((110, 10), (64, 20)),
        final_balance=105,
        agreement=AgreementSpec(threshold=180, overage=OveragePolicy.ALLOW_NEGATIVE, overage_limit=120),
        pays_after_days=10,
        seats=15,  # too many seats for its spend: not an MSA candidate
        subjects=(
            "Case management sync errors",
            "Document search not indexing new files",
            "E-filing certificate renewal",
            "Conference room display for depositions",
        ),
    ),
    ClientSpec(
        name="Summit Ridge Credit Union",
        scenario="yearly block: unused hours expire with the term",
        billing_name="Summit Ridge Federal Credit Union",
        billing_email="finance@summitridgecu.example",
        billing_address="300 Summit Avenue\nBoulder, CO 80302",
        hourly_rate=Decimal("130.00"),
        contacts=(
            Person("jordan.reyes", "Jordan", "Reyes", "jreyes@summitridgecu.example", False),
            Person("linda.park", "Linda", "Park", "lpark@summitridgecu.example"),
        ),
        blocks=((340, 30),),
        final_balance=540,
        agreement=AgreementSpec(name="Annual support hours", days_ago=340, days_left=21),
        pays_after_days=14,
        subjects=(
            "Teller workstation replacement",
            "Core banking client update",
            "Quarterly vulnerability scan findings",
            "Drive-up window intercom PC reboots",
        ),
    ),
    ClientSpec(
        name="Maple Street Bakery",
        scenario="new client: one 10 h block, normal and after-hours work only",
        billing_email="hello@maplestreetbakery.example",
        billing_address="42 Maple Street\nBurlington, VT 05401",
        hourly_rate=Decimal("95.00"),
        contacts=(Person("sofia.marino", "Sofia", "Marino", "sofia@maplestreetbakery.example"),),
        blocks=((38, 10),),
        final_balance=300,
        agreement=AgreementSpec(work_types=(NORMAL, AFTER_HOURS)),
        pays_after_days=1,
        subjects=(
            "POS terminal offline",
            "Guest Wi-Fi separate from the registers",
            "Online ordering tablet keeps logging out",
        ),
    ),
    ClientSpec(
        name="Studio Dentistico Bianchi",
        scenario="Italian client, in euros: low, its reload invoice and emails in Italian",
        billing_email="amministrazione@studiobianchi.example",
        billing_address="Via Solferino 12\n20121 Milano MI\nItalia",
        hourly_rate=Decimal("80.00"),
        currency="EUR",
        language="it",
        contacts=(Person("giulia.bianchi", "Giulia", "Bianchi", "giulia@studiobianchi.example"),),
        blocks=((75, 20),),
        final_balance=90,
        agreement=AgreementSpec(name="Ore di assistenza prepagate"),
        pays_after_days=5,
        subjects=(
            "Il gestionale dello studio non si avvia",
            "Stampante delle ricette non stampa",
            "Backup notturno non riuscito",
            "Nuova postazione in reception",
            "Il Wi-Fi degli ospiti non funziona",
            "Aggiornamento del software radiografico",
        ),
    ),
)

GENERIC_SUBJECTS = (
    "Outlook keeps asking for the password",
    "New hire onboarding: laptop and Microsoft 365 account",
    "Printer on the second floor offline",
    "VPN drops every few minutes",
    "Backup job failed overnight",
    "Set up MFA for all users",
    "Shared drive permissions for the finance team",
    "Phishing email reported: check mailbox rules",
    "Teams calls drop audio",
    "Scan to email stopped working",
    "Monthly server patching",
    "Offboarding: disable account and forward mail",
    "Replace failing drive in the NAS",
    "Wi-Fi dead spot in the conference room",
    "Migrate user to a new PC",
    "Firewall firmware update",
)
NOTES = {
    NORMAL: (
        "Remote session with the user; fixed and confirmed working.",
        "Checked the logs, applied the vendor's fix, tested.",
        "Phone call: walked the user through it.",
        "On site: diagnosed and fixed; tested with the user.",
        "Follow-up: confirmed the problem has not come back.",
        "Updated the client's documentation after the change.",
    ),
    AFTER_HOURS: (
        "Evening window so staff were not interrupted: updates applied, rebooted, checked services.",
        "After hours at the client's request; change made and verified.",
    ),
    NON_BILLABLE: (
        "No charge: follow-up on our own earlier fix.",
        "No charge: vendor warranty call.",
    ),
}
# The same notes for clients served in Italian.
NOTES_IT = {
    NORMAL: (
        "Sessione remota con l'utente: risolto e verificato.",
        "Controllati i log, applicata la correzione del fornitore, provato.",
        "Telefonata: guidato l'utente passo passo.",
        "In sede: diagnosticato e risolto, provato con l'utente.",
        "Verifica successiva: il problema non si è ripresentato.",
    ),
    AFTER_HOURS: ("Fuori orario su richiesta del cliente: modifica eseguita e verificata.",),
    NON_BILLABLE: ("Senza addebito: verifica di un nostro intervento precedente.",),
}
WORKED_MINUTES = {
    NORMAL: (5, 10, 15, 20, 25, 30, 30, 45, 45, 60, 60, 75, 90, 120, 150, 180),
    AFTER_HOURS: (30, 60, 90, 120),
    NON_BILLABLE: (10, 15, 20, 30),
}
# Randomly drawn work is mostly normal; the one emergency is scripted.
WORK_TYPE_WEIGHTS = {NORMAL: 85, AFTER_HOURS: 10, NON_BILLABLE: 5}

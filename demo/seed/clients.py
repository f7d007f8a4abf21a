"""The demo MSP's people and clients, each client telling one part of the product's story.

To add a client, add a ClientSpec to CLIENTS: the planner makes its history
add up to `final_balance`, and the seed refuses to finish if the services
end anywhere else.
"""

from decimal import Decimal

from agreements.models import CreditPolicy, OveragePolicy, RolloverPolicy, RoundingMode, TermEndAction
from demo.seed.specs import (
    AFTER_HOURS,
    EMERGENCY,
    NON_BILLABLE,
    NORMAL,
    AgreementSpec,
    ClientSpec,
    FirstAgreement,
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
        scenario="yearly block renewing: its renewal invoice is out, unused hours expire with the term",
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
        # A year to the day (28 Dec to 27 Dec when seeded on 3 Dec). It renews
        # with no rollover: the renewal run issued its invoice 30 days before
        # the end, still open today, and the 9 h left will expire.
        agreement=AgreementSpec(
            name="Annual support hours",
            days_ago=340,
            days_left=24,
            term_end_action=TermEndAction.RENEW,
            renewal_tier_hours=30,
            renewal_invoice_days=30,
        ),
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
    ClientSpec(
        name="Cobalt Creek Realty",
        scenario="two agreements in order: an office move project first, then general support",
        billing_email="accounts@cobaltcreekrealty.example",
        billing_address="85 Creekside Drive\nMadison, WI 53703",
        hourly_rate=Decimal("105.00"),
        contacts=(Person("nina.albright", "Nina", "Albright", "nina@cobaltcreekrealty.example"),),
        blocks=((50, 10),),
        final_balance=240,
        agreement=AgreementSpec(name="General support", days_ago=100),
        # The move's 30 h cover office and after-hours work only; the
        # services charge them first until they are spent, then general
        # support takes over (and takes the no-charge work all along).
        first=FirstAgreement(
            terms=AgreementSpec(name="Office move project — 30 h", days_ago=100, work_types=(NORMAL, AFTER_HOURS)),
            hours=30,
            final_balance=0,
            scripted=(
                Scripted(
                    96,
                    NORMAL,
                    240,
                    "Move plan: network survey of the new office",
                    "Walked the new office with the landlord's electrician; drew the cabling plan.",
                    "jamie.cole",
                ),
                Scripted(
                    90,
                    NORMAL,
                    180,
                    "New office: switches and firewall",
                    "Configured the new switches and the firewall on the bench.",
                    "ravi.nair",
                ),
                Scripted(
                    84,
                    NORMAL,
                    240,
                    "New office: patching and Wi-Fi access points",
                    "Patched the cabinet, mounted and adopted four access points.",
                    "jamie.cole",
                ),
                Scripted(
                    77,
                    AFTER_HOURS,
                    240,
                    "Move weekend: server and network cut-over",
                    "Saturday: moved the server rack, cut over the internet line, tested.",
                    "ravi.nair",
                ),
                Scripted(
                    76,
                    AFTER_HOURS,
                    120,
                    "Move weekend: desks, PCs and phones",
                    "Sunday: set up every desk, PC and desk phone; checked each login.",
                    "ana.torres",
                ),
                Scripted(
                    70,
                    NORMAL,
                    300,
                    "Move-in day support",
                    "On site all morning: printers, shared drives and the odd missing cable.",
                    "jamie.cole",
                ),
                Scripted(
                    63,
                    NORMAL,
                    180,
                    "New office: printers and scanners",
                    "Scan-to-email and printer queues for the new floor.",
                    "ana.torres",
                ),
                Scripted(
                    56,
                    NORMAL,
                    120,
                    "Old office: network decommissioned",
                    "Removed our equipment from the old office and wiped it.",
                    "ravi.nair",
                ),
            ),
        ),
        pays_after_days=3,
        scripted=(
            Scripted(
                days_ago=80,
                work_type=NON_BILLABLE,
                minutes=30,
                subject="Pre-move site visit with the landlord",
                notes="No charge: met the landlord about the comms room before the move.",
                technician="jamie.cole",
            ),
        ),
        subjects=(
            "Listing photos upload slowly",
            "Agent laptops: VPN from open houses",
            "E-signature add-in missing in Outlook",
        ),
    ),
    ClientSpec(
        name="Riverbend Architects",
        scenario="yearly block renewed 60 days ago: 4 h rolled over, 4 h expired; the next renewal shown",
        billing_email="office@riverbend-arch.example",
        billing_address="12 Mill Race Lane\nStillwater, MN 55082",
        hourly_rate=Decimal("115.00"),
        contacts=(Person("owen.hart", "Owen", "Hart", "owen@riverbend-arch.example"),),
        blocks=((425, 30),),
        # The carry-over block (4 h) is spent first: 1 h of it is left, plus the new term's 20 h.
        final_balance=1260,
        # A yearly term (4 Oct to 3 Oct when seeded on 3 Dec) that ended 61
        # days ago and renewed with a 20 h block, invoiced 30 days before;
        # up to 4 h of the unused hours roll into the new term.
        agreement=AgreementSpec(
            name="Annual support hours",
            days_ago=425,
            days_left=-61,
            term_end_action=TermEndAction.RENEW,
            renewal_tier_hours=20,
            renewal_invoice_days=30,
            rollover_policy=RolloverPolicy.CAPPED_HOURS,
            rollover_cap_minutes=240,
        ),
        pays_after_days=5,
        renewal_pays_after_days=5,
        planned_work=False,  # its year of work is scripted: the renewal is what it shows
        scripted=(
            Scripted(
                400,
                NORMAL,
                180,
                "Plotter driver for the large-format printer",
                "Installed the plotter's new driver on every CAD workstation.",
                "ana.torres",
            ),
            Scripted(
                330,
                NORMAL,
                240,
                "CAD licence server moved to the new host",
                "Moved the licence server and updated the clients.",
                "ravi.nair",
            ),
            Scripted(
                250,
                NORMAL,
                300,
                "Project archive to the NAS",
                "Copied closed projects to the NAS and set up its backup.",
                "jamie.cole",
            ),
            Scripted(
                180,
                NORMAL,
                240,
                "New hire: CAD workstation",
                "Built and delivered a CAD workstation for the new architect.",
                "ana.torres",
            ),
            Scripted(
                120,
                NORMAL,
                180,
                "Render node keeps crashing",
                "Replaced the render node's failing memory; ran a test render overnight.",
                "ravi.nair",
            ),
            Scripted(
                75,
                NORMAL,
                180,
                "Site tablets: plan viewer update",
                "Updated the plan viewer on the site tablets.",
                "jamie.cole",
            ),
            Scripted(
                40,
                NORMAL,
                120,
                "Outlook archive after the renewal",
                "Set up online archiving for the partners' mailboxes.",
                "ana.torres",
            ),
            Scripted(
                12,
                NORMAL,
                60,
                "Meeting room display",
                "Fixed screen sharing to the meeting room display.",
                "jamie.cole",
            ),
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

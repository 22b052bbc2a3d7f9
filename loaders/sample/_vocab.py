"""Static vocabularies for the synthetic CRM sample: picklists, names, products.

Everything here is plain data. Keeping it apart from the generator means the
generative code stays readable and a reviewer can check the picklist values
against Salesforce defaults in one place.
"""

from __future__ import annotations

import unicodedata

from ontology.names import Label

# --- Export layout -----------------------------------------------------------------------------------------------

HEADERS: dict[str, tuple[str, ...]] = {
    "Account.csv": (
        "Id", "Name", "ParentId", "Industry", "Type", "BillingCountry", "NumberOfEmployees", "AnnualRevenue",
        "Website", "OwnerId", "CreatedDate",
    ),
    "Contact.csv": ("Id", "AccountId", "FirstName", "LastName", "Email", "Title", "CreatedDate"),
    "AccountContactRelation.csv": (
        "Id", "AccountId", "ContactId", "Roles", "StartDate", "EndDate", "IsActive", "IsDirect", "CreatedDate",
    ),
    "User.csv": ("Id", "Name", "Email", "Title", "Department", "IsActive", "CreatedDate"),
    "Product2.csv": ("Id", "Name", "ProductCode", "Family", "IsActive", "CreatedDate"),
    "Opportunity.csv": (
        "Id", "Name", "AccountId", "OwnerId", "StageName", "Amount", "Probability", "CloseDate", "IsClosed", "IsWon",
        "Type", "LeadSource", "ForecastCategoryName", "Loss_Reason__c", "CreatedDate",
    ),
    "OpportunityContactRole.csv": ("Id", "OpportunityId", "ContactId", "Role", "IsPrimary", "CreatedDate"),
    "OpportunityLineItem.csv": (
        "Id", "OpportunityId", "Product2Id", "Quantity", "UnitPrice", "TotalPrice", "CreatedDate",
    ),
    "OpportunityHistory.csv": (
        "Id", "OpportunityId", "StageName", "Amount", "CloseDate", "Probability", "ForecastCategory", "CreatedById",
        "CreatedDate",
    ),
    "Task.csv": (
        "Id", "WhatId", "WhoId", "AccountId", "OwnerId", "Subject", "ActivityDate", "Status", "Priority",
        "TaskSubtype", "Type", "CallType", "CreatedDate",
    ),
    "Event.csv": (
        "Id", "WhatId", "WhoId", "AccountId", "OwnerId", "Subject", "StartDateTime", "EndDateTime",
        "DurationInMinutes", "ShowAs", "Type", "CreatedDate",
    ),
    "truth.csv": (
        "OpportunityId", "win_probability", "logit", "contact_effect", "account_effect", "parent_effect",
        "affinity_effect", "rep_effect", "amount_effect", "response_effect", "key_contact_id", "main_cause",
    ),
}

# Excel re-saves add a BOM; only these two files went through Excel in the story we tell.
BOM_FILES = frozenset({"Account.csv", "Opportunity.csv"})

# Real Salesforce key prefixes, so a loader can dispatch on the first three characters as it would in production.
KEY_PREFIX = {
    Label.ACCOUNT: "001",
    Label.CONTACT: "003",
    "User": "005",
    "Opportunity": "006",
    "Product2": "01t",
    "OpportunityContactRole": "00K",
    "OpportunityLineItem": "00k",
    "AccountContactRelation": "07k",
    "OpportunityHistory": "008",
    "Task": "00T",
    "Event": "00U",
}

# --- Accounts ----------------------------------------------------------------------------------------------------

INDUSTRIES = (
    "Technology", "Finance", "Healthcare", "Manufacturing", "Retail",
    "Energy", "Education", "Media", "Transportation", "Government",
)
INDUSTRY_WEIGHTS = (0.20, 0.13, 0.11, 0.13, 0.10, 0.07, 0.06, 0.07, 0.08, 0.05)
GOVERNMENT = INDUSTRIES.index("Government")
# Revenue per employee (USD) by industry: drives AnnualRevenue so it correlates with head count.
REVENUE_PER_EMPLOYEE = (260_000, 420_000, 180_000, 230_000, 150_000, 520_000, 90_000, 210_000, 200_000, 120_000)
# Words that make a company name sound like its industry.
INDUSTRY_WORDS = (
    ("Systems", "Software", "Labs", "Networks", "Technologies", "Digital", "Cloud"),
    ("Capital", "Financial", "Bank", "Insurance", "Investments", "Partners", "Credit"),
    ("Health", "Pharma", "Medical", "Biotech", "Diagnostics", "Clinics", "Care"),
    ("Industries", "Manufacturing", "Materials", "Works", "Components", "Machinery", "Steel"),
    ("Retail", "Stores", "Brands", "Market", "Outfitters", "Trading", "Goods"),
    ("Energy", "Power", "Solar", "Utilities", "Renewables", "Oil & Gas", "Grid"),
    ("Academy", "Learning", "Institute", "College", "Education", "Schools", "Training"),
    ("Media", "Studios", "Publishing", "Broadcasting", "Entertainment", "Press", "Games"),
    ("Logistics", "Freight", "Airlines", "Mobility", "Shipping", "Rail", "Transport"),
    ("County", "Transit Authority", "Public Health Agency", "Water Board", "Revenue Office", "Port Authority",
     "Housing Agency"),
)

ACCOUNT_TYPES = ("Customer", "Prospect", "Partner")
ACCOUNT_TYPE_WEIGHTS = (0.55, 0.35, 0.10)

# Country, weight, company-suffix choices, web top-level domain, sales region.
COUNTRIES = (
    ("United States", 0.34, ("Inc", "LLC", "Corp"), "com", "NA"),
    ("Canada", 0.05, ("Inc", "Ltd"), "ca", "NA"),
    ("United Kingdom", 0.09, ("Ltd", "plc"), "co.uk", "EMEA"),
    ("Germany", 0.09, ("GmbH", "AG"), "de", "EMEA"),
    ("France", 0.06, ("S.A.", "SAS"), "fr", "EMEA"),
    ("Spain", 0.04, ("S.A.", "S.L."), "es", "EMEA"),
    ("Netherlands", 0.03, ("B.V.", "N.V."), "nl", "EMEA"),
    ("Poland", 0.03, ("Sp. z o.o.", "S.A."), "pl", "EMEA"),
    ("Sweden", 0.03, ("AB",), "se", "EMEA"),
    ("Switzerland", 0.03, ("AG", "GmbH"), "ch", "EMEA"),
    ("Brazil", 0.04, ("Ltda.", "S.A."), "com.br", "LATAM"),
    ("Mexico", 0.03, ("S.A. de C.V.",), "mx", "LATAM"),
    ("Japan", 0.05, ("K.K.",), "jp", "APAC"),
    ("India", 0.05, ("Pvt Ltd",), "in", "APAC"),
    ("Australia", 0.04, ("Pty Ltd",), "com.au", "APAC"),
)

# Two-syllable cores ("Vex" + "ora" -> "Vexora"); a few non-ASCII heads so names exercise UTF-8 handling.
NAME_HEADS = (
    "Vex", "Nor", "Ast", "Cal", "Bri", "Zen", "Kor", "Lum", "Tra", "Quin", "Sol", "Mer", "Arc", "Del", "Fen",
    "Hal", "Ori", "Pyr", "Sil", "Tel", "Ver", "Xan", "Yor", "Gal", "Ion", "Jun", "Kel", "Mon", "Nex", "Ost",
    "Pol", "Rho", "Sta", "Ulm", "Vol", "Wes", "Bel", "Cor", "Dyn", "Ely", "Acm", "Bor", "Cir", "Dor", "Esk",
    "Grün", "Bjør", "Él", "Søl", "Mü",
)
NAME_TAILS = (
    "ora", "ex", "ix", "on", "ia", "ent", "ara", "is", "os", "um", "ica", "ant", "eon", "ium", "ra", "yx",
    "ova", "ar", "el", "ine", "ta", "co", "io", "an", "en", "al", "ux", "ely", "ido", "ona",
)

# --- People ------------------------------------------------------------------------------------------------------

FIRST_NAMES = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "William",
    "Susan", "Richard", "Jessica", "Thomas", "Sarah", "Daniel", "Karen", "Matthew", "Nancy", "Anthony", "Lisa",
    "Mark", "Emily", "Steven", "Anna", "Paul", "Laura", "Andrew", "Olivia", "Kevin", "Sophie", "Brian", "Emma",
    "George", "Hannah", "Peter", "Julia", "Lukas", "Lena", "Jan", "Eva", "Pierre", "Camille", "Marco", "Giulia",
    "Hiroshi", "Yuki", "Priya", "Arjun", "Wei", "Mei", "Carlos", "Lucía", "José", "Zoë", "Łukasz", "François",
    "Søren", "Björn", "Chloé", "Jürgen", "Siobhán", "Małgorzata", "Renée", "Raúl", "Ingrid", "Ayşe", "Mehmet",
    "Olga", "Noémie", "Håkon", "Dóra", "Ángel", "Jiří", "Ewa", "Tomás", "Inês", "Kenji", "Aisha",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Thomas",
    "Moore", "Martin", "Jackson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Young", "King", "Wright",
    "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Schmidt", "Schneider", "Fischer", "Weber",
    "Becker", "Rossi", "Russo", "Bianchi", "Dubois", "Laurent", "Bernard", "Jensen", "Andersson", "Novak",
    "Tanaka", "Suzuki", "Sato", "Patel", "Sharma", "Gupta", "Chen", "Wang", "Li", "Silva", "Santos", "Pereira",
    "Núñez", "Müller", "Kowalski", "Dvořák", "O'Brien", "García", "Wójcik", "Çelik", "Lefèvre", "Øverby",
    "Nyström", "Gonçalves", "Hernández", "Böhm", "Sørensen", "Kovač", "Lindqvist", "MacLeod", "D'Angelo",
    "Jiménez", "Özdemir", "Zieliński", "Fernández", "Van der Berg",
)

# Contact titles with a seniority class: 0 = executive, 1 = manager, 2 = individual contributor.
TITLES = (
    ("CEO", 0, 0.03), ("CFO", 0, 0.03), ("CTO", 0, 0.04), ("COO", 0, 0.02), ("CIO", 0, 0.02),
    ("VP Sales", 0, 0.03), ("VP Engineering", 0, 0.03), ("VP Operations", 0, 0.02),
    ("Head of IT", 1, 0.06), ("IT Director", 1, 0.05), ("Procurement Manager", 1, 0.07),
    ("Operations Manager", 1, 0.06), ("Product Manager", 1, 0.05), ("Project Manager", 1, 0.05),
    ("Finance Manager", 1, 0.03), ("Engineer", 2, 0.11), ("Senior Engineer", 2, 0.07), ("Analyst", 2, 0.09),
    ("Business Analyst", 2, 0.05), ("Consultant", 2, 0.04), ("Data Scientist", 2, 0.03), ("Office Manager", 2, 0.02),
)

# --- Sales org ---------------------------------------------------------------------------------------------------

# Ordered so that small orgs (few reps) staff the broad teams first.
TEAMS = ("Enterprise East", "Enterprise West", "Mid-Market", "EMEA", "APAC", "SMB", "Public Sector", "LATAM")
REP_TITLES = ("Account Executive", "Senior Account Executive", "Account Manager", "Sales Director")
REP_TITLE_WEIGHTS = (0.45, 0.25, 0.2, 0.1)
SELLER_DOMAIN = "dealgraph-demo.example"

# --- Products ----------------------------------------------------------------------------------------------------

FAMILIES = ("Platform", "Analytics", "Security", "Integration", "Services")
FAMILY_WEIGHTS = (0.30, 0.20, 0.20, 0.15, 0.15)
# (name, code, family index, list price USD per unit, active). Inactive products only appear on deals from the
# first year of history, as retired SKUs do.
PRODUCTS = (
    ("Platform Core", "PLT-100", 0, 6_000, True),
    ("Platform Professional", "PLT-200", 0, 9_500, True),
    ("Platform Enterprise", "PLT-300", 0, 14_000, True),
    ("Platform Edge Add-on", "PLT-410", 0, 3_200, True),
    ("Platform Legacy Edition", "PLT-090", 0, 5_000, False),
    ("Analytics Starter", "ANL-100", 1, 2_400, True),
    ("Analytics Pro", "ANL-200", 1, 5_800, True),
    ("Predictive Insights", "ANL-310", 1, 7_900, True),
    ("Data Warehouse Connector", "ANL-420", 1, 3_100, True),
    ("Analytics Classic", "ANL-050", 1, 2_000, False),
    ("Security Shield", "SEC-100", 2, 4_500, True),
    ("Identity & Access", "SEC-210", 2, 3_900, True),
    ("Threat Monitor", "SEC-320", 2, 6_700, True),
    ("Compliance Pack", "SEC-430", 2, 2_800, True),
    ("Zero-Trust Gateway", "SEC-540", 2, 8_200, True),
    ("Integration Hub", "INT-100", 3, 4_200, True),
    ("API Gateway", "INT-210", 3, 3_600, True),
    ("Connector Pack – SAP", "INT-320", 3, 2_500, True),
    ("Event Streaming", "INT-430", 3, 5_100, True),
    ("Onboarding Services", "SRV-100", 4, 1_500, True),
    ("Premium Support", "SRV-200", 4, 1_800, True),
    ("Training Day", "SRV-310", 4, 1_200, True),
    ("Custom Development", "SRV-420", 4, 1_650, True),
    ("Solution Architecture", "SRV-530", 4, 1_950, True),
)

# --- Opportunities -----------------------------------------------------------------------------------------------

# Open stages with Salesforce's out-of-the-box default probability and forecast category.
OPEN_STAGES = (
    ("Prospecting", 10, "Pipeline"),
    ("Qualification", 10, "Pipeline"),
    ("Needs Analysis", 20, "Pipeline"),
    ("Value Proposition", 50, "Pipeline"),
    ("Proposal/Price Quote", 75, "Pipeline"),
    ("Negotiation/Review", 90, "Pipeline"),
)
WON_STAGE = ("Closed Won", 100, "Closed")
LOST_STAGE = ("Closed Lost", 0, "Omitted")

OPP_TYPE_NEW = "New Customer"
OPP_TYPES_EXISTING = ("Existing Customer - Upgrade", "Existing Customer - Replacement", "Existing Customer - Downgrade")
OPP_TYPES_EXISTING_WEIGHTS = (0.6, 0.25, 0.15)
OPP_NAME_KINDS = ("Expansion", "Renewal", "New Logo", "Upgrade", "Pilot", "Rollout")
LEAD_SOURCES = (
    "Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other", "Advertisement",
    "Employee Referral", "Trade Show",
)
LOSS_REASONS = ("Price", "Competitor", "No Budget", "No Decision", "Timing")
LOSS_REASON_WEIGHTS = (0.28, 0.27, 0.17, 0.18, 0.10)

# OpportunityContactRole roles, the weight each has in contact_effect, and how likely each seniority class
# (executive, manager, individual contributor) is to hold the role on a deal.
ROLES = (
    # role,                weight, exec, manager, ic
    ("Champion", 2.0, 0.10, 0.22, 0.10),
    ("Decision Maker", 1.5, 0.30, 0.14, 0.02),
    ("Economic Buyer", 1.5, 0.22, 0.08, 0.01),
    ("Executive Sponsor", 1.2, 0.22, 0.04, 0.00),
    ("Technical Buyer", 1.0, 0.04, 0.14, 0.22),
    ("Influencer", 1.0, 0.06, 0.18, 0.18),
    ("Evaluator", 0.8, 0.02, 0.10, 0.20),
    ("Business User", 0.5, 0.02, 0.06, 0.20),
    ("Other", 0.5, 0.02, 0.04, 0.07),
)
# AccountContactRelation.Roles is a multi-select picklist with its own default value set.
ACR_ROLES = (
    "Business User", "Decision Maker", "Economic Buyer", "Economic Decision Maker", "Evaluator",
    "Executive Sponsor", "Influencer", "Technical Buyer", "Other",
)

EFFECT_NAMES = ("contact", "account", "parent", "affinity", "rep", "response")

# --- Helpers -----------------------------------------------------------------------------------------------------

# Letters NFKD does not decompose into ASCII + combining mark.
_FOLD_EXTRA = str.maketrans({
    "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
    "đ": "d", "Đ": "D", "ı": "i", "å": "a", "Å": "A",
})


def ascii_fold(text: str) -> str:
    """Fold accented Latin text to plain ASCII, the way mail and web addresses are usually spelled.

    Args:
        text: Any Latin-script string.

    Returns:
        The string with diacritics removed and a few special letters transliterated.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD_EXTRA))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).encode("ascii", "ignore").decode()


def slug(text: str) -> str:
    """Lower-case ASCII slug for web and mail domains ("Grün Oil & Gas" -> "grun-oil-gas").

    Args:
        text: Name to slugify.

    Returns:
        Lower-case words of ``[a-z0-9]`` joined by single hyphens.
    """
    out = []
    word = []
    for ch in ascii_fold(text).lower():
        if ch.isalnum():
            word.append(ch)
        elif word:
            out.append("".join(word))
            word = []
    if word:
        out.append("".join(word))
    return "-".join(out)

"""Who runs the synthetic studies and where: sponsors, countries and cities, facility names and people.

All names are fictional; cities and coordinates are real. ``kg.demo.synthetic`` draws from these tables.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "COUNTRIES",
    "FACILITY_KINDS",
    "FACILITY_PATTERNS",
    "FIRST_NAMES",
    "LAST_NAMES",
    "SEED_HOME_COUNTRY_SHARE",
    "SEED_SPONSORS",
    "SPONSORS",
    "SPONSOR_CLASS_WEIGHTS",
    "City",
]


# --- Sponsors, places, people (all fictional names; real cities and coordinates) ----------------------------

SPONSOR_CLASS_WEIGHTS: Final[dict[str, float]] = {  # lead sponsor classes, roughly as in registry downloads
    "OTHER": 52,
    "INDUSTRY": 40,
    "NIH": 3,
    "OTHER_GOV": 2.5,
    "NETWORK": 1.5,
    "FED": 1,
}
SPONSORS: Final[tuple[tuple[str, str, str], ...]] = (  # name, class, home country; most popular first per class
    ("Aldervale Pharmaceuticals, Inc.", "INDUSTRY", "United States"),
    ("Halden Oncology AG", "INDUSTRY", "Switzerland"),
    ("Northlake University Medical Center", "OTHER", "United States"),
    ("Kestrel Biologics Ltd.", "INDUSTRY", "United Kingdom"),
    ("Shenghua Pharmaceutical Group Co., Ltd.", "INDUSTRY", "China"),
    ("Lumenor Pharma GmbH", "INDUSTRY", "Germany"),
    ("National Institute for Cancer Research (NICR)", "NIH", "United States"),
    ("Huaxin Medical University", "OTHER", "China"),
    ("Meridian Cardiovascular Inc.", "INDUSTRY", "United States"),
    ("Norhaven Pharma A/S", "INDUSTRY", "Denmark"),
    ("Eastbridge University", "OTHER", "United States"),
    ("Orison Neuroscience, Inc.", "INDUSTRY", "United States"),
    ("Institut Clinique Val-de-Seine", "OTHER", "France"),
    ("Jiangnan Innovative Medicines Co., Ltd.", "INDUSTRY", "China"),
    ("Yamashiro Pharmaceutical Co., Ltd.", "INDUSTRY", "Japan"),
    ("Klinikum Rheinblick", "OTHER", "Germany"),
    ("Tessaly Therapeutics SAS", "INDUSTRY", "France"),
    ("Hangang University Hospital", "OTHER", "South Korea"),
    ("Pellucid Medical Devices", "INDUSTRY", "United States"),
    ("Atlantic Oncology Trials Network", "NETWORK", "United States"),
    ("Zhongshan Riverside Hospital", "OTHER", "China"),
    ("Brightwater Biosciences", "INDUSTRY", "United States"),
    ("St. Aldric's Hospital NHS Trust", "OTHER", "United Kingdom"),
    ("National Heart and Vascular Institute (NHVI)", "NIH", "United States"),
    ("Valemont Pharma S.p.A.", "INDUSTRY", "Italy"),
    ("Hospital Universitario del Norte", "OTHER", "Spain"),
    ("Hanbit Bio Co., Ltd.", "INDUSTRY", "South Korea"),
    ("Nile Valley University Hospitals", "OTHER", "Egypt"),
    ("Corvane Therapeutics", "INDUSTRY", "United States"),
    ("Kanto Metropolitan University Hospital", "OTHER", "Japan"),
    ("Ridgefield Vaccines Inc.", "INDUSTRY", "United States"),
    ("Amstel Academic Medical Centre", "OTHER", "Netherlands"),
    ("Calloway Diabetes Care Inc.", "INDUSTRY", "United States"),
    ("Western Plains Cancer Institute", "OTHER", "United States"),
    ("State Health Research Agency", "OTHER_GOV", "China"),
    ("Arvane Immunology Ltd.", "INDUSTRY", "United Kingdom"),
    ("Ospedale San Lorenzo Nuovo", "OTHER", "Italy"),
    ("Eastern Coast Cancer Hospital", "OTHER", "China"),
    ("European Cardiology Trials Consortium", "NETWORK", "France"),
    ("Zephyr Respiratory Ltd.", "INDUSTRY", "United Kingdom"),
    ("Harbourview Research Hospital", "OTHER", "Canada"),
    ("Veterans Health Research Service", "FED", "United States"),
    ("Anatolian Medical Faculty Hospital", "OTHER", "Turkey"),
    ("Pinecrest Generics Ltd.", "INDUSTRY", "India"),
    ("Southern Cross Medical Research Institute", "OTHER", "Australia"),
    ("National Institute of Neurological Health (NINH)", "NIH", "United States"),
    ("Sunbelt Medical Devices", "INDUSTRY", "United States"),
    ("Hospital das Clínicas do Sul", "OTHER", "Brazil"),
    ("Umbra Health Technologies", "INDUSTRY", "United States"),
    ("Galilee Medical Research Center", "OTHER", "Israel"),
    ("Commonwealth Health Research Office", "OTHER_GOV", "Australia"),
    ("Deccan Institute of Medical Sciences", "OTHER", "India"),
    ("Nordic Public Health Research Council", "OTHER_GOV", "Denmark"),
    ("Øresund University Hospital", "OTHER", "Denmark"),
    ("Pan-Asian Liver Cancer Group", "NETWORK", "China"),
    ("Federal Military Health Research Program", "FED", "United States"),
    ("West Sichuan University Hospital", "OTHER", "China"),
    ("Tianfu Nuclear Medicine Technology Co., Ltd.", "INDUSTRY", "China"),
    ("Isolux Radiopharma Co., Ltd.", "INDUSTRY", "China"),
    ("Betaray Theranostics GmbH", "INDUSTRY", "Germany"),
    ("Lutrix Radioligand Therapeutics, Inc.", "INDUSTRY", "United States"),
    ("Nordic Isotope Medicines AB", "INDUSTRY", "Sweden"),
)
SEED_SPONSORS: Final[tuple[str, ...]] = (  # who runs the radioligand trials, most active first
    "Tianfu Nuclear Medicine Technology Co., Ltd.",
    "Isolux Radiopharma Co., Ltd.",
    "Lutrix Radioligand Therapeutics, Inc.",
    "Betaray Theranostics GmbH",
    "West Sichuan University Hospital",
    "Nordic Isotope Medicines AB",
    "Huaxin Medical University",
)
SEED_HOME_COUNTRY_SHARE: Final[float] = 0.6

City = tuple[str, str | None, float, float]  # city, state, lat, lon
# fmt: off
COUNTRIES: Final[tuple[tuple[str, float, tuple[City, ...]], ...]] = (  # name, popularity, cities
    ("United States", 30, (
        ("New York", "New York", 40.71427, -74.00597), ("Boston", "Massachusetts", 42.35843, -71.05977),
        ("Houston", "Texas", 29.76328, -95.36327), ("Chicago", "Illinois", 41.85003, -87.65005),
        ("Los Angeles", "California", 34.05223, -118.24368), ("Rochester", "Minnesota", 44.02163, -92.4699),
        ("Nashville", "Tennessee", 36.16589, -86.78444), ("Seattle", "Washington", 47.60621, -122.33207),
    )),
    ("China", 12, (
        ("Beijing", "Beijing", 39.9075, 116.39723), ("Shanghai", "Shanghai", 31.22222, 121.45806),
        ("Guangzhou", "Guangdong", 23.11667, 113.25), ("Chengdu", "Sichuan", 30.66667, 104.06667),
        ("Hangzhou", "Zhejiang", 30.29365, 120.16142), ("Wuhan", "Hubei", 30.58333, 114.26667),
        ("Nanjing", "Jiangsu", 32.06167, 118.77778),
    )),
    ("France", 5, (
        ("Paris", None, 48.85341, 2.3488), ("Lyon", None, 45.74846, 4.84671), ("Marseille", None, 43.29695, 5.38107),
        ("Toulouse", None, 43.60426, 1.44367),
    )),
    ("Germany", 5, (
        ("Berlin", None, 52.52437, 13.41053), ("Munich", None, 48.13743, 11.57549),
        ("Heidelberg", None, 49.40768, 8.69079), ("Hamburg", None, 53.57532, 10.01534),
    )),
    ("United Kingdom", 4, (
        ("London", None, 51.50853, -0.12574), ("Manchester", None, 53.48095, -2.23743),
        ("Birmingham", None, 52.48142, -1.89983), ("Glasgow", None, 55.86515, -4.25763),
    )),
    ("Canada", 3, (
        ("Toronto", "Ontario", 43.70011, -79.4163), ("Montreal", "Quebec", 45.50884, -73.58781),
        ("Vancouver", "British Columbia", 49.24966, -123.11934),
    )),
    ("Spain", 3, (
        ("Madrid", None, 40.4165, -3.70256), ("Barcelona", None, 41.38879, 2.15899),
        ("Valencia", None, 39.46975, -0.37739),
    )),
    ("Italy", 3, (
        ("Milan", None, 45.46427, 9.18951), ("Rome", None, 41.89193, 12.51133), ("Naples", None, 40.85216, 14.26811),
    )),
    ("Japan", 3, (
        ("Tokyo", None, 35.6895, 139.69171), ("Osaka", None, 34.69374, 135.50218),
        ("Nagoya", None, 35.18147, 136.90641),
    )),
    ("South Korea", 3, (
        ("Seoul", None, 37.566, 126.9784), ("Busan", None, 35.10168, 129.03004),
        ("Seongnam-si", None, 37.43861, 127.13778),
    )),
    ("Australia", 2, (
        ("Melbourne", "Victoria", -37.814, 144.96332), ("Sydney", "New South Wales", -33.86785, 151.20732),
        ("Brisbane", "Queensland", -27.46794, 153.02809),
    )),
    ("Netherlands", 2, (
        ("Amsterdam", None, 52.37403, 4.88969), ("Rotterdam", None, 51.9225, 4.47917),
        ("Utrecht", None, 52.09083, 5.12222),
    )),
    ("Belgium", 2, (
        ("Brussels", None, 50.85045, 4.34878), ("Leuven", None, 50.87959, 4.70093), ("Ghent", None, 51.05, 3.71667),
    )),
    ("Poland", 2, (
        ("Warsaw", None, 52.22977, 21.01178), ("Krakow", None, 50.06143, 19.93658),
        ("Gdansk", None, 54.35205, 18.64637),
    )),
    ("Brazil", 2, (
        ("São Paulo", "São Paulo", -23.5475, -46.63611), ("Rio de Janeiro", "Rio de Janeiro", -22.90642, -43.18223),
        ("Porto Alegre", "Rio Grande do Sul", -30.03306, -51.23),
    )),
    ("India", 2, (
        ("New Delhi", "Delhi", 28.63576, 77.22445), ("Mumbai", "Maharashtra", 19.07283, 72.88261),
        ("Bangalore", "Karnataka", 12.97194, 77.59369),
    )),
    ("Israel", 1.5, (
        ("Tel Aviv", None, 32.08088, 34.78057), ("Jerusalem", None, 31.76904, 35.21633),
        ("Haifa", None, 32.81841, 34.9885),
    )),
    ("Turkey", 1.5, (
        ("Istanbul", None, 41.01384, 28.94966), ("Ankara", None, 39.91987, 32.85427),
        ("Izmir", None, 38.41273, 27.13838),
    )),
    ("Egypt", 1.5, (
        ("Cairo", None, 30.06263, 31.24967), ("Alexandria", None, 31.20176, 29.91582),
        ("Assiut", None, 27.18096, 31.18368),
    )),
    ("Denmark", 1.2, (
        ("Copenhagen", None, 55.67594, 12.56553), ("Aarhus", None, 56.15674, 10.21076),
        ("Odense", None, 55.39594, 10.38831),
    )),
    ("Sweden", 1.2, (
        ("Stockholm", None, 59.32938, 18.06871), ("Gothenburg", None, 57.70716, 11.96679),
        ("Uppsala", None, 59.85882, 17.63889),
    )),
    ("Switzerland", 1, (
        ("Zurich", None, 47.36667, 8.55), ("Bern", None, 46.94809, 7.44744), ("Geneva", None, 46.20222, 6.14569),
    )),
    ("Austria", 1, (
        ("Vienna", None, 48.20849, 16.37208), ("Graz", None, 47.06667, 15.45),
        ("Innsbruck", None, 47.26266, 11.39454),
    )),
    ("Taiwan", 1, (
        ("Taipei", None, 25.04776, 121.53185), ("Taichung", None, 24.1469, 120.6839),
        ("Kaohsiung", None, 22.61626, 120.31333),
    )),
    ("Mexico", 1, (
        ("Mexico City", None, 19.42847, -99.12766), ("Guadalajara", None, 20.66682, -103.39182),
        ("Monterrey", None, 25.67507, -100.31847),
    )),
    ("Argentina", 0.8, (
        ("Buenos Aires", None, -34.61315, -58.37723), ("Córdoba", None, -31.4135, -64.18105),
        ("Rosario", None, -32.94682, -60.63932),
    )),
)
# fmt: on
FACILITY_KINDS: Final[dict[str, tuple[str, ...]]] = {
    "oncology": ("Cancer Hospital", "Cancer Center", "Oncology Institute", "University Hospital"),
    "default": ("University Hospital", "General Hospital", "Medical Center", "Clinical Research Center"),
}
FACILITY_PATTERNS: Final[tuple[str, ...]] = ("{city} {kind}", "{kind} of {city}", "{city} Central {kind}")
FIRST_NAMES: Final[tuple[str, ...]] = (
    "Anna", "Wei", "Maria", "James", "Yuki", "Ahmed", "Sofia", "Lukas", "Priya", "Min-jun",
    "Elena", "David", "Chen", "Fatima", "Jonas", "Laura", "Rafael", "Ingrid", "Kenji", "Olivia",
)  # fmt: skip
LAST_NAMES: Final[tuple[str, ...]] = (
    "Novak", "Zhang", "García", "Okafor", "Tanaka", "Hassan", "Rossi", "Schmidt", "Iyer", "Kim",
    "Petrov", "Cohen", "Liu", "Haddad", "Larsen", "Moreau", "Silva", "Berg", "Sato", "Walsh",
)  # fmt: skip

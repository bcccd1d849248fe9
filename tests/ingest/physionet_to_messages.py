#!/usr/bin/env python3
"""tests/ingest/physionet_to_messages.py: PhysioNet/CinC 2019 stays as a hospital would send
them, as HL7 v2.5.1 ORU^R01 messages and as FHIR R4 Observations, written from the
standards (not from cdr's code):

  physionet_to_messages.py STAYS_DIR OUT_DIR

writes OUT_DIR/results.hl7 and OUT_DIR/observations.ndjson.

The measurements are those `cdr import physionet2019` reads (one per non-missing cell;
the PhysioNet 2019 columns' LOINC codes and UCUM units as documented with the data set);
times are 2000-01-01T00:00:00Z plus ICULOS hours, the stay's file stem is the patient.
Messages go out in time order across stays (as a feed would send them), stays in name
order within an hour.

HL7 v2 (HL7 v2.5.1 chapters 2 and 7): one ORU^R01 per stay and hour, in a batch (FHS, BHS,
..., BTS with the message count, FTS); segments end with CR (2.5.1, "Segment terminator").
MSH-7 is the hour; PID-3 the patient (no assigning authority); OBR-3 the filler order
number `<stay>-<hour>`, OBR-7 the hour; one OBX per measurement: OBX-2 NM, OBX-3
`code^name^LN`, OBX-5 the number, OBX-6 `unit^^UCUM`, OBX-11 F. Temperatures are sent in
degrees Fahrenheit ([degF], F = C * 9/5 + 32, exact in decimals): the receiver converts.

FHIR R4 (Observation, Bundle): bulk-export style NDJSON, one resource per line, except
that each hour's blood pressures go as a panel (LOINC 85354-9) with systolic (8480-6) and
diastolic (8462-4) components, as the FHIR vital-signs profile shapes them, and every
10th stay's hour goes as a transaction Bundle on one line. status final, subject
`Patient/<stay>`, effectiveDateTime the hour, valueQuantity with the UCUM system and
code. Haemoglobin is sent in g/L (x 10) and FiO2 in % (x 100), exact: the receiver
converts to the schema's units.
"""
import datetime
import decimal
import json
import os
import sys

# PhysioNet 2019 column -> (LOINC, display, UCUM unit).
COLUMNS = {
    "HR": ("8867-4", "Heart rate", "/min"), "O2Sat": ("59408-5", "Oxygen saturation by pulse oximetry", "%"),
    "Temp": ("8310-5", "Body temperature", "Cel"), "SBP": ("8480-6", "Systolic blood pressure", "mm[Hg]"),
    "MAP": ("8478-0", "Mean blood pressure", "mm[Hg]"), "DBP": ("8462-4", "Diastolic blood pressure", "mm[Hg]"),
    "Resp": ("9279-1", "Respiratory rate", "/min"), "EtCO2": ("19891-1", "End tidal CO2", "mm[Hg]"),
    "BaseExcess": ("1925-7", "Base excess", "mmol/L"), "HCO3": ("1963-8", "Bicarbonate", "mmol/L"),
    "FiO2": ("3150-0", "Inhaled oxygen concentration", "1"), "pH": ("2744-1", "pH of arterial blood", "[pH]"),
    "PaCO2": ("2019-8", "Carbon dioxide partial pressure", "mm[Hg]"),
    "SaO2": ("2708-6", "Oxygen saturation in arterial blood", "%"), "AST": ("1920-8", "AST", "U/L"),
    "BUN": ("3094-0", "Urea nitrogen", "mg/dL"), "Alkalinephos": ("6768-6", "Alkaline phosphatase", "U/L"),
    "Calcium": ("17861-6", "Calcium", "mg/dL"), "Chloride": ("2075-0", "Chloride", "mmol/L"),
    "Creatinine": ("2160-0", "Creatinine", "mg/dL"), "Bilirubin_direct": ("1968-7", "Bilirubin direct", "mg/dL"),
    "Glucose": ("2345-7", "Glucose", "mg/dL"), "Lactate": ("2524-7", "Lactate", "mmol/L"),
    "Magnesium": ("19123-9", "Magnesium", "mg/dL"), "Phosphate": ("2777-1", "Phosphate", "mg/dL"),
    "Potassium": ("2823-3", "Potassium", "mmol/L"), "Bilirubin_total": ("1975-2", "Bilirubin total", "mg/dL"),
    "TroponinI": ("10839-9", "Troponin I", "ng/mL"), "Hct": ("4544-3", "Hematocrit", "%"),
    "Hgb": ("718-7", "Hemoglobin", "g/dL"), "PTT": ("3173-2", "aPTT", "s"), "WBC": ("6690-2", "Leukocytes", "10*3/uL"),
    "Fibrinogen": ("3255-7", "Fibrinogen", "mg/dL"), "Platelets": ("777-3", "Platelets", "10*3/uL"),
}


def plain(d):
    """A Decimal as plain digits (no exponent, no trailing zeros after the point)."""
    return format(d.normalize(), "f")


BASE = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)


def hl7_time(hour):
    # DTM with its zone (HL7 v2.5.1 2.A.22): YYYYMMDDHHMMSS+ZZZZ.
    return (BASE + datetime.timedelta(hours=hour)).strftime("%Y%m%d%H%M%S+0000")


def iso_time(hour):
    # FHIR dateTime: with hours, a zone is required.
    return (BASE + datetime.timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_stays(stays_dir):
    rows = []  # (hour, stay, [(column, Decimal)])
    for name in sorted(os.listdir(stays_dir)):
        if not name.endswith(".psv"):
            continue
        stay = name[:-4]
        with open(os.path.join(stays_dir, name)) as f:
            header = f.readline().strip().split("|")
            for line in f:
                cells = dict(zip(header, line.strip().split("|")))
                hour = int(cells["ICULOS"])
                values = [(c, decimal.Decimal(cells[c])) for c in header if c in COLUMNS and cells[c] != "NaN"]
                if values:
                    rows.append((hour, stay, values))
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


def hl7(rows, out):
    segs = ["FHS|^~\\&|PHYSIONET|ICU|CDR|HOSP", "BHS|^~\\&|PHYSIONET|ICU|CDR|HOSP"]
    for n, (hour, stay, values) in enumerate(rows):
        t = hl7_time(hour)
        segs.append(f"MSH|^~\\&|PHYSIONET|ICU|CDR|HOSP|{t}||ORU^R01^ORU_R01|{stay}-{hour}|P|2.5.1")
        segs.append(f"PID|1||{stay}")
        segs.append(f"OBR|1||{stay}-{hour}|vitals-labs^ICU observations^L|||{t}")
        for i, (column, value) in enumerate(values, 1):
            code, name, unit = COLUMNS[column]
            if column == "Temp":
                value, unit = value * 9 / 5 + 32, "[degF]"
            segs.append(f"OBX|{i}|NM|{code}^{name}^LN||{plain(value)}|{unit}^^UCUM|||||F|||{t}")
    segs.append(f"BTS|{len(rows)}")
    segs.append("FTS|1")
    out.write("\r".join(segs) + "\r")


def quantity(value, unit):
    v = float(value) if value != value.to_integral_value() else int(value)
    return {"value": v, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}


def observation(stay, hour, oid, code, name, value=None, unit=None, components=None):
    o = {"resourceType": "Observation", "id": oid, "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": name}]},
         "subject": {"reference": f"Patient/{stay}"}, "effectiveDateTime": iso_time(hour)}
    if value is not None:
        o["valueQuantity"] = quantity(value, unit)
    if components:
        o["component"] = components
    return o


def fhir(rows, out):
    for hour, stay, values in rows:
        resources = []
        by_column = dict(values)
        for column, value in values:
            code, name, unit = COLUMNS[column]
            if column in ("SBP", "DBP") and "SBP" in by_column and "DBP" in by_column:
                if column == "DBP":
                    continue
                comps = [{"code": {"coding": [{"system": "http://loinc.org", "code": COLUMNS[c][0]}]},
                          "valueQuantity": quantity(by_column[c], "mm[Hg]")} for c in ("SBP", "DBP")]
                resources.append(observation(stay, hour, f"{stay}-{hour}-bp", "85354-9", "Blood pressure panel",
                                             components=comps))
                continue
            if column == "Hgb":
                value, unit = value * 10, "g/L"
            elif column == "FiO2":
                value, unit = value * 100, "%"
            resources.append(observation(stay, hour, f"{stay}-{hour}-{column}", code, name, value, unit))
        if int(stay[1:]) % 10 == 0:
            bundle = {"resourceType": "Bundle", "type": "transaction",
                      "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r,
                                 "request": {"method": "PUT", "url": f"Observation/{r['id']}"}} for r in resources]}
            out.write(json.dumps(bundle, separators=(",", ":")) + "\n")
        else:
            for r in resources:
                out.write(json.dumps(r, separators=(",", ":")) + "\n")


def main():
    stays_dir, out_dir = sys.argv[1], sys.argv[2]
    rows = read_stays(stays_dir)
    with open(os.path.join(out_dir, "results.hl7"), "w", newline="") as f:
        hl7(rows, f)
    with open(os.path.join(out_dir, "observations.ndjson"), "w") as f:
        fhir(rows, f)


if __name__ == "__main__":
    main()

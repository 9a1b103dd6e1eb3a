"""Parses a Prometheus text exposition (on stdin) with the Prometheus
project's own Python client (Debian's python3-prometheus-client) and prints
it as JSON: the families (name, type, help) and every sample (name, labels,
value). Non-finite values are written as the strings "+Inf", "-Inf", "NaN".
A malformed exposition makes the parser raise: exit code 1 and the reason
on stderr."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def number(value):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


families = []
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    families.append({"name": family.name, "type": family.type, "help": family.documentation})
    for sample in family.samples:
        samples.append({"name": sample.name, "labels": sample.labels, "value": number(sample.value)})
json.dump({"families": families, "samples": samples}, sys.stdout)

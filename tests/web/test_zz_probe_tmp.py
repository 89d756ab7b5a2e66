import collections, time
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from tests.web.test_api import signed_in

def test_probe(app, client, town):
    token = signed_in(client, town, "district_admin")
    auth = {"headers": {"X-CSRFToken": token}, "cookies": {"session": client.get_cookie("session").value}}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    stats = collections.Counter(); times = collections.Counter()
    for operation in [r.ok() for r in schema.get_all_operations()]:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            t0 = time.perf_counter(); reqt = [0.0]
            @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case):
                t = time.perf_counter()
                r = case.call(**auth)
                reqt[0] += time.perf_counter() - t
                stats[(operation.label, mode.value, r.status_code)] += 1
            call()
            times[(operation.label, mode.value)] = (round(time.perf_counter() - t0, 2), round(reqt[0], 2))
    for k, v in sorted(stats.items()): print(k, v)
    for k, v in times.items(): print(k, v)

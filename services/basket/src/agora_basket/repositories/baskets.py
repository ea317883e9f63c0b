"""Baskets in Redis: one hash per owner, product id → line, and a set per product of its baskets.

Keys (``prefix`` is ``AGORA_BASKET_KEY_PREFIX``, ``basket`` by default)::

    {prefix}:{owner}                hash   product id -> StoredLine JSON   (TTL renewed on write)
    {prefix}:product:{product id}   set    owners whose basket holds it     (TTL renewed on write)
    {prefix}:applied:{event id}     string an event already applied to a basket (TTL: a basket's)

An owner is ``user:<id>`` or ``guest:<id>``. Every change is one Lua script, so Redis runs it
alone: two tabs setting different products never lose a line (each writes its own field), the
line limit cannot be overshot by a race, and the product index never disagrees with the baskets.
The index lets the ``product.price_changed`` consumer find the baskets holding a product without
scanning Redis. A member whose basket expired stays in a set until the set itself expires; its
readers check the basket. The scripts name index keys they build themselves, which a Redis
Cluster would refuse: basket uses one Redis (or a primary with replicas), as catalog's cache does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis

from agora_basket.schemas.lines import PriceNotice, StoredLine

ScriptArgs = list[str | int]
PRICE_BATCH = 200
"""Baskets marked per script call: a popular product's set is walked in slices, so one event
never holds Redis for long."""

_PUT_LINE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0
   and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""

_REMOVE_LINE = """
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[3])
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return removed
"""

_CLEAR = """
local fields = redis.call('HKEYS', KEYS[1])
for _, field in ipairs(fields) do redis.call('SREM', ARGV[1] .. field, ARGV[2]) end
redis.call('DEL', KEYS[1])
return #fields
"""

_CLEAR_ONCE = (
    "if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then return -1 end\n" + _CLEAR
)
"""``_CLEAR``, unless the event id (``KEYS[2]``) was recorded before; it is recorded now."""

_NOTE_PRICE = """
local marked = 0
for i = 2, #KEYS do
  local raw = redis.call('HGET', KEYS[i], ARGV[1])
  if not raw then
    redis.call('SREM', KEYS[1], ARGV[3 + i])
  else
    local line = cjson.decode(raw)
    if not line.kt or line.kt < ARGV[4] then
      line.k, line.kc, line.kt = ARGV[2], ARGV[3], ARGV[4]
      redis.call('HSET', KEYS[i], ARGV[1], cjson.encode(line))
      marked = marked + 1
    end
  end
end
return marked
"""

_MERGE = """
local guest = redis.call('HGETALL', KEYS[1])
local merged, dropped = 0, 0
for i = 1, #guest, 2 do
  local field, value = guest[i], guest[i + 1]
  local index = ARGV[1] .. field
  local mine = redis.call('HGET', KEYS[2], field)
  if mine then
    local line = cjson.decode(mine)
    line.q = math.min(line.q + cjson.decode(value).q, tonumber(ARGV[4]))
    redis.call('HSET', KEYS[2], field, cjson.encode(line))
    merged = merged + 1
  elseif redis.call('HLEN', KEYS[2]) < tonumber(ARGV[5]) then
    redis.call('HSET', KEYS[2], field, value)
    redis.call('SADD', index, ARGV[3])
    redis.call('EXPIRE', index, ARGV[6])
    merged = merged + 1
  else
    dropped = dropped + 1
  end
  redis.call('SREM', index, ARGV[2])
end
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], ARGV[6]) end
return {merged, dropped}
"""


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    """What a merge did.

    Attributes:
        merged: Guest lines added to the user's basket (or added up with a line there).
        dropped: Guest lines left out because the user's basket was full.
    """

    merged: int
    dropped: int


class BasketRepository:
    """Reads and changes baskets; every change renews the basket's time to live.

    Args:
        redis: A client made with ``decode_responses=True``.
        prefix: Prefix of every key.
        ttl_seconds: Life of a basket after its last change.
    """

    def __init__(self, redis: Redis, *, prefix: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._put = redis.register_script(_PUT_LINE)
        self._remove = redis.register_script(_REMOVE_LINE)
        self._clear = redis.register_script(_CLEAR)
        self._merge = redis.register_script(_MERGE)
        self._clear_once = redis.register_script(_CLEAR_ONCE)
        self._note_price = redis.register_script(_NOTE_PRICE)

    def basket_key(self, owner: str) -> str:
        """The key of ``owner``'s basket hash."""
        return f"{self._prefix}:{owner}"

    def index_key(self, product_id: str) -> str:
        """The key of the set of owners whose basket holds ``product_id``."""
        return f"{self._prefix}:product:{product_id}"

    async def lines(self, owner: str) -> dict[str, StoredLine]:
        """The owner's lines by product id (empty when there is no basket)."""
        raw = cast(dict[str, str], await self._redis.hgetall(self.basket_key(owner)))
        return {
            product_id: StoredLine.decode(product_id, value) for product_id, value in raw.items()
        }

    async def put(self, owner: str, line: StoredLine, *, max_lines: int) -> bool:
        """Set one line (added, or replacing the product's line), unless the basket is full.

        Args:
            owner: The basket's owner.
            line: The line.
            max_lines: Most lines a basket may hold.

        Returns:
            ``False`` when the product is new and the basket already holds ``max_lines``.
        """
        keys = [self.basket_key(owner), self.index_key(line.product_id)]
        args: ScriptArgs = [line.product_id, line.encode(), max_lines, self._ttl, owner]
        return bool(await self._put(keys=keys, args=args))

    async def remove(self, owner: str, product_id: str) -> bool:
        """Remove the product's line; ``True`` when there was one."""
        keys = [self.basket_key(owner), self.index_key(product_id)]
        return bool(await self._remove(keys=keys, args=[product_id, self._ttl, owner]))

    async def clear(self, owner: str) -> int:
        """Delete the owner's basket; returns how many lines it held."""
        keys = [self.basket_key(owner)]
        return int(await self._clear(keys=keys, args=[self.index_key(""), owner]))

    async def clear_once(self, owner: str, event_id: str) -> int | None:
        """Delete the owner's basket for an event, unless that event cleared it already.

        The event id is recorded in the same script as the change, so a redelivery of the event
        (even one the consumer's inbox let through, after a failed commit) changes nothing.

        Args:
            owner: The basket's owner.
            event_id: The id of the event asking for it.

        Returns:
            How many lines the basket held, or ``None`` when the event was applied before.
        """
        keys = [self.basket_key(owner), f"{self._prefix}:applied:{event_id}"]
        cleared = int(
            await self._clear_once(keys=keys, args=[self.index_key(""), owner, self._ttl])
        )
        return None if cleared < 0 else cleared

    async def note_price(self, price: PriceNotice) -> int:
        """Record catalog's new price of a product on every basket line holding it.

        Walks the product's index in slices (``SSCAN``); drops index members whose basket no
        longer holds the product. A line keeps the latest notice: an older one arriving late
        changes nothing. The basket's time to live is left alone (the shopper did not write).

        Args:
            price: The product, its new price and when it changed.

        Returns:
            How many lines were marked.
        """
        index = self.index_key(price.product_id)
        marked, owners = 0, []
        async for owner in self._redis.sscan_iter(index, count=PRICE_BATCH):
            owners.append(str(owner))
            if len(owners) == PRICE_BATCH:
                marked += await self._note_batch(index, price, owners)
                owners = []
        if owners:
            marked += await self._note_batch(index, price, owners)
        return marked

    async def _note_batch(self, index: str, price: PriceNotice, owners: list[str]) -> int:
        keys = [index, *(self.basket_key(owner) for owner in owners)]
        args: ScriptArgs = [
            price.product_id,
            str(price.unit_price),
            price.currency,
            price.changed_at,
            *owners,
        ]
        return int(await self._note_price(keys=keys, args=args))

    async def merge(
        self, guest: str, user: str, *, max_quantity: int, max_lines: int
    ) -> MergeOutcome:
        """Move a guest's lines into a user's basket and delete the guest's, in one step.

        A product in both adds the quantities, capped at ``max_quantity`` (the user's line keeps
        the price it was set at). A second merge of the same guest finds nothing to move.

        Args:
            guest: The guest owner.
            user: The user owner.
            max_quantity: Most units of one product.
            max_lines: Most lines; guest lines beyond it are dropped.

        Returns:
            How many lines were merged and dropped.
        """
        keys = [self.basket_key(guest), self.basket_key(user)]
        args: ScriptArgs = [self.index_key(""), guest, user, max_quantity, max_lines, self._ttl]
        merged, dropped = cast(list[int], await self._merge(keys=keys, args=args))
        return MergeOutcome(merged=int(merged), dropped=int(dropped))

    async def baskets_holding(self, product_id: str) -> set[str]:
        """The owners whose basket holds (or recently held) the product."""
        members = await self._redis.smembers(self.index_key(product_id))
        return {str(member) for member in members}

    async def ttl(self, owner: str) -> int:
        """Seconds left of the owner's basket (-2: no basket)."""
        return int(await self._redis.ttl(self.basket_key(owner)))

"""dmelodies"""

"""spikeport.hw"""
